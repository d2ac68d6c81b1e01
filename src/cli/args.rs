//! Command-line arguments (clap derive, no logic).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::plan::PlanFormat;

/// Turn database/cohort (and other synced) enrolments into manual ones inside Moodle backups (.mbz),
/// with end dates, offline.
#[derive(Debug, Parser)]
#[command(name = "mbz-enrol", version = VERSION, about, long_about = None, after_help = MAIN_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors (no summaries, progress or warnings on stderr; --json output is unchanged).
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Print more: every converted user's resulting enrolment in the convert summary.
    #[arg(short, long, global = true, conflicts_with = "quiet", help_heading = GLOBAL)]
    pub verbose: bool,
    /// Reading limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The heading of the global options in every command's help (listed once there, apart from the command's own).
const GLOBAL: &str = "Global options";

/// `--version`: the package version, the commit and its date (from build.rs; "unknown" outside a git checkout).
/// The commit's date, not the build clock, so that a rebuild of the same commit prints the same text.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MBZ_COMMIT"),
    ", ",
    env!("MBZ_COMMIT_DATE"),
    ")"
);

/// The reading limits (global).
#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Largest XML member read into memory, in MiB (hostile or broken archives are refused beyond it).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 256, help_heading = GLOBAL)]
    pub max_xml_mib: u64,
    /// Largest total size the archive may inflate to, in GiB (a decompression bomb is refused beyond it).
    #[arg(long, global = true, value_name = "GIB", default_value_t = 100, help_heading = GLOBAL)]
    pub max_total_gib: u64,
}

/// `--timezone` (convert's wording; the other commands say what the zone is for).
#[derive(Debug, clap::Args)]
pub struct ZoneArg {
    /// IANA time zone for --until (e.g. Europe/Paris). Default: $MBZ_TIMEZONE, else $TZ, else the system's zone (with a warning naming it).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
}

/// The conversion options of convert, batch and plan (convert's wording for the date; batch and plan refer to
/// convert for the lists, which convert words in full).
#[derive(Debug, clap::Args)]
pub struct ConversionArgs {
    /// End of access: YYYY-MM-DD (through that whole day), YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z], or @EPOCH.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// The zone of the dates.
    #[command(flatten)]
    pub zone: ZoneArg,
    /// Enrolment methods to convert (as in convert).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    #[arg(default_value = "database,cohort")]
    pub from: Vec<String>,
    /// Role shortnames whose holders get the end date (as in convert).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    #[arg(default_value = "student")]
    pub stamp_roles: Vec<String>,
}

/// `--target`: which restore the per-user values promise.
#[derive(Debug, clap::Args)]
pub struct TargetArg {
    /// Which restore the summary, --report and --json's per-user values promise: `live` (merged into the course
    /// the backup came from: "Restore into this course", merge; the documented route), `new` (restored as a new
    /// course) or `existing` (into a course that does not enrol these users). --json carries all three.
    #[arg(long, value_enum, value_name = "WHERE", default_value = "live")]
    pub target: TargetValue,
}

/// The values of `--target`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TargetValue {
    /// Merged into the live course the backup came from
    Live,
    /// Restored as a new course
    New,
    /// Restored into an existing course that does not enrol these users
    Existing,
}

impl TargetValue {
    /// The library's target.
    pub fn resolve(self) -> mbz_enrol::enrol::restore::Target {
        use mbz_enrol::enrol::restore::Target;
        match self {
            TargetValue::Live => Target::Live,
            TargetValue::New => Target::New,
            TargetValue::Existing => Target::Existing,
        }
    }
}

/// `--level`.
#[derive(Debug, clap::Args)]
pub struct LevelArg {
    /// Deflate level 0-9 for the tar.gz output (and rewritten zip members): 6 is Moodle's own, and the fastest
    /// for a tar.gz: its compressed bytes are reused where the output's content is the input's. Any other level
    /// compresses the whole archive again (1 larger, 9 barely smaller). Compression runs on every core; the bytes
    /// never depend on it.
    #[arg(long, value_name = "0-9", default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub level: u32,
}

/// The output options of convert and renew (convert's wording; renew says what differs).
#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// Where to write the converted backup (same container as the input). Required unless --dry-run.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Report what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace OUT if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Print the report as JSON on stdout (the human summary still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Verify the output against the input after writing (as `verify OUT --against IN`); exit 1 if it fails.
    #[arg(long)]
    pub verify: bool,
    /// The deflate level.
    #[command(flatten)]
    pub level: LevelArg,
}

const MAIN_HELP: &str = "\
Examples:
  mbz-enrol inspect backup.mbz
  mbz-enrol convert backup.mbz -o backup-manual.mbz --until 2027-08-31 --timezone Europe/Paris
  mbz-enrol verify backup-manual.mbz --against backup.mbz
  mbz-enrol batch backups/ -o converted/ --until 2027-08-31 --report report.html

Exit codes: 0 success; 1 a check failed (verify, --verify) or an archive failed (batch, plan --allow-partial);
2 error (bad arguments, unreadable archive: nothing is written); 130 interrupted (Ctrl-C).
Guides: README.md (English), docs/guide-fr.md (français).";

const CONVERT_HELP: &str = "\
Examples:
  # Keep cohort and database students through 31 August 2027 (Paris time), teachers keep their dates:
  mbz-enrol convert course.mbz -o course-manual.mbz --until 2027-08-31 --timezone Europe/Paris
  # Also meta links; stamp students and non-editing teachers; check the result; JSON report:
  mbz-enrol convert course.mbz -o out.mbz --until 2027-08-31T23:59 --from database,cohort,meta \\
      --stamp-roles student,teacher --verify --json > report.json
  # See what would change, write nothing:
  mbz-enrol convert course.mbz --dry-run --until 2027-08-31

The route, year after year (the summary's per-user values are what Moodle stores at step 3, --target live):
  1. Back up the live course with users, role assignments and groups (Course > Backup, or admin/cli/backup.php).
  2. Convert it (above); read what no archive can do, and the welcome-message warning if any.
  3. Restore it into that same course: Course > Restore > \"Restore into this course\" > \"Merge the backup
     course into this course\", \"Include enrolment methods\" = \"Yes, but only if users are included\".
  4. Check Participants (filter: Manual enrolments). If the summary named groups owned by cohort sync, merge the
     same archive again once the cutoff sync has run.
  5. Next year: back up the course again (it holds this year's manual enrolments) and convert with a later
     --until: the archive starts those users one second after their live start, so the merge applies the new end.
A new course (--target new) gets the archive's values as written.";

const BATCH_HELP: &str = "\
Examples:
  mbz-enrol batch /var/backups/moodle -o /srv/converted --until 2027-08-31 --report report.html
  # Diplomas ending on different dates (CSV: course,until):
  mbz-enrol batch backups/ -o out/ --until-map diplomas.csv --until 2027-08-31 --verify
  # Four cron hosts share one corpus:
  mbz-enrol batch backups/ -o out/ --until 2027-08-31 --shard 2/4 --resume";

const PLAN_HELP: &str = "\
Examples:
  # A CSV for Site administration > Users > Accounts > Upload users, all courses of a folder:
  mbz-enrol plan backups/ --format uploaduser -o enrolments.csv --until 2027-08-31 --timezone Europe/Paris
  # A tool_sync file keyed by idnumber, only what changes in the live course:
  mbz-enrol plan course.mbz --format toolsync --user-key idnumber --course-key idnumber \\
      --into live-course-users.mbz -o enrols.csv --until 2027-08-31";

const APPLY_HELP: &str = "\
Examples:
  # What would be sent, per user (read calls only), then the real run; the token from a 0600 file:
  mbz-enrol apply course.mbz --url https://moodle.example.org --token-file ~/.mbz-token \\
      --until 2027-08-31 --timezone Europe/Paris --dry-run
  mbz-enrol apply course.mbz --url https://moodle.example.org --token-file ~/.mbz-token \\
      --until 2027-08-31 --timezone Europe/Paris --report apply/report.json
  # Several courses, two at a time, an HTML report; the token from the environment:
  MBZ_MOODLE_TOKEN=... mbz-enrol apply backups/ --url https://moodle.example.org --until 2027-08-31 \\
      --report apply/report.html";

const RENEW_HELP: &str = "\
Examples:
  # The participants page procedure: inactive manual students back to active until 31 August 2027:
  mbz-enrol renew course.mbz -o renewed.mbz --method manual --role student --status inactive \\
      --set-status active --until 2027-08-31 --timezone Europe/Paris
  # Clear the end date of two users (impossible in the web form):
  mbz-enrol renew course.mbz -o renewed.mbz --user jdoe,asmith --until none
  # A whole folder:
  mbz-enrol renew backups/ -o renewed/ --method self --status expired --until 2027-12-31";

const VERIFY_HELP: &str = "\
Examples:
  mbz-enrol verify course-manual.mbz
  mbz-enrol verify course-manual.mbz --against course.mbz --timezone Europe/Paris
  mbz-enrol verify course-manual.mbz --against course.mbz --json > proof.json";

const INSPECT_HELP: &str = "\
Examples:
  mbz-enrol inspect course.mbz
  mbz-enrol inspect course.mbz --json | jq '.enrol_instances'";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert synced enrolments into manual ones, stamp end dates, write a restorable .mbz.
    ///
    /// All user enrolments of the converted methods merge into the course's manual instance (one per user),
    /// keeping roles and group memberships. Users holding a --stamp-roles role get the --until end date.
    /// Every other archive member is copied byte for byte. The input is never modified.
    #[command(after_help = CONVERT_HELP)]
    Convert(ConvertArgs),
    /// Convert whole folders of backups in parallel, with per-course end dates, progress and a report.
    ///
    /// Folders are walked recursively; files named *.mbz are converted into OUTDIR under the same relative paths
    /// (one that is not an archive fails, listed first in the report). One failing archive never stops the
    /// others. Exit 0 when all succeeded,
    /// 1 when any failed, 2 on usage errors, 130 when interrupted (finished outputs stay, unfinished ones are
    /// removed).
    #[command(after_help = BATCH_HELP)]
    Batch(BatchArgs),
    /// Write a direct merge plan instead of a restore: Upload users CSV, tool_sync CSV, JSON or web-service bodies.
    ///
    /// The plan holds, for each archive's course, the enrolments that `convert` promises (same rules), one action
    /// per user. ARCHIVE may be several archives or folders: one plan covers all their courses.
    #[command(after_help = PLAN_HELP)]
    Plan(PlanArgs),
    /// Put the plan into the live courses through Moodle's web services, with a dry run first.
    ///
    /// Each ARCHIVE is a backup of a live course of the site at --url (its ids are the site's). Per course: the
    /// plan of `plan` (same rules), the course found by --course-key and checked, its participants read, only
    /// the needed enrol_manual_enrol_users and core_group_add_group_members calls sent (every field every time,
    /// at most 1,000 form variables per call), then read back. A journal per course beside the report keeps what
    /// was accepted: a rerun sends nothing already done. The token comes from $MBZ_MOODLE_TOKEN or --token-file,
    /// never from the command line. Exit 0 when every course is done, 1 when any failed.
    #[command(after_help = APPLY_HELP)]
    Apply(ApplyArgs),
    /// Extend, reactivate or suspend manual and self enrolments (the participants page's bulk edit, offline).
    ///
    /// Filters combine with AND; a list inside one filter means any of them. Only the chosen fields of matching
    /// enrolments change; everything else is copied byte for byte. Unlike the web form, --until none clears an end
    /// date back to unlimited.
    #[command(after_help = RENEW_HELP)]
    Renew(RenewArgs),
    /// Show what a backup holds: container, release, course, enrolment methods and their users.
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Prove that a backup will restore, and with --against that only enrolment records changed.
    ///
    /// Exit 0 when every check passes, 1 when one fails (each failure listed), 2 when the archive cannot be read.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    ///
    /// e.g. mbz-enrol completions bash > /etc/bash_completion.d/mbz-enrol
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or with --dir write one page per command into DIR.
    ///
    /// e.g. mbz-enrol manpage --dir /usr/local/share/man/man1 (mbz-enrol.1, mbz-enrol-convert.1, …)
    Manpage {
        /// Write every page (mbz-enrol.1 and one mbz-enrol-COMMAND.1 per command) into DIR (created if needed).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `convert` arguments.
#[derive(Debug, clap::Args)]
#[command(
    mut_args(tune("until", |a| a.required(true))),
    // -o first, as it always was.
    mut_args(tune("output", |a| a.display_order(0))),
    mut_args(tune("from", |a| a.help(
        "Enrolment methods to convert (enrol plugin names, comma-separated), e.g. database,cohort,meta,ldap"
    ))),
    mut_args(tune("stamp_roles", |a| a.help(
        "Role shortnames whose holders get the --until end date; others keep their computed end. A name the \
         archive's roles.xml does not define is an error (a standard role the course does not use: a warning)"
    ))),
)]
pub struct ConvertArgs {
    /// The backup to convert (.mbz, tar.gz or zip: detected from its content).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// What to convert, until when.
    #[command(flatten)]
    pub conversion: ConversionArgs,
    /// Which restore the report promises.
    #[command(flatten)]
    pub target: TargetArg,
    /// A fresh backup of the live course the archive will be merged into (same site): the manual enrolments a
    /// merge meets there. Default: the archive's own (what the course held when it was backed up).
    #[arg(long, value_name = "LIVE.mbz")]
    pub into: Option<PathBuf>,
    /// Write the archive's manual instance with the course welcome message off, so that a restore as a new
    /// course on Moodle 4.4 or later mails nobody (a merge keeps the live course's own setting).
    #[arg(long)]
    pub welcome_off: bool,
    /// Where and how to write.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `f` applied to the argument `id` only, in place (a command's own wording or place for a shared option; clap's
/// `mut_arg` would move the argument to the end of the list, and with it the completions).
fn tune(id: &'static str, f: fn(clap::Arg) -> clap::Arg) -> impl FnMut(clap::Arg) -> clap::Arg {
    move |a| if a.get_id() == id { f(a) } else { a }
}

/// `batch` arguments.
#[derive(Debug, clap::Args)]
#[command(
    mut_args(tune("until", |a| a.help("End of access for archives that --until-map does not cover (as in convert)"))),
    mut_args(tune("timezone", |a| a.help("IANA time zone for the dates. Default: $MBZ_TIMEZONE, else $TZ, else the system's zone (with a warning naming it)"))),
)]
pub struct BatchArgs {
    /// Backups or folders of backups.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder (created if needed; must not be inside an input folder).
    #[arg(short, long, value_name = "OUTDIR")]
    pub output: PathBuf,
    /// What to convert, until when (as in convert).
    #[command(flatten)]
    pub conversion: ConversionArgs,
    /// Which restore the report promises.
    #[command(flatten)]
    pub target: TargetArg,
    /// CSV with columns `course` (shortname, idnumber or file-name glob) and `until`; the first match wins.
    #[arg(long, value_name = "FILE.csv", display_order = 1)]
    pub until_map: Option<PathBuf>,
    /// Archives converted at once (1 or more). Default: the number of cores.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Process only shard K of N (by a stable hash of each archive's relative path), e.g. 2/4.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Skip an archive whose output was made from the same input bytes with the same options by this version
    /// (recorded in OUTDIR/.mbz-enrol-resume/); convert it again otherwise.
    #[arg(long)]
    pub resume: bool,
    /// An archive with nothing to convert counts as a failure (and gets no output).
    #[arg(long)]
    pub require_change: bool,
    /// Verify each output against its input; a failed check fails that archive.
    #[arg(long)]
    pub verify: bool,
    /// Report what would change; write no archive (the --report is still written).
    #[arg(long)]
    pub dry_run: bool,
    /// Write a report: .csv, .json or .html (by extension).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The deflate level.
    #[command(flatten)]
    pub level: LevelArg,
}

/// `--user-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserKeyArg {
    /// username
    Username,
    /// idnumber
    Idnumber,
    /// email
    Email,
    /// the backup's user id (same site only)
    Id,
}

/// `--separator` of tool_sync plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeparatorArg {
    /// `;`, the plugin's default
    #[value(name = ";")]
    Semicolon,
    /// `,`
    #[value(name = ",")]
    Comma,
}

/// `--encoding` of tool_sync plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncodingArg {
    /// UTF-8, the plugin's default
    #[value(name = "utf-8")]
    Utf8,
    /// ISO-8859-1 (a character it cannot hold is refused)
    #[value(name = "iso-8859-1")]
    Latin1,
}

/// `--course-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CourseKeyArg {
    /// shortname
    Shortname,
    /// idnumber
    Idnumber,
    /// the backup's course id (same site only)
    Id,
}

/// `plan` arguments.
#[derive(Debug, clap::Args)]
#[command(
    mut_args(tune("until", |a| a.required(true).help("End of access for stamped roles (as in convert)"))),
    mut_args(tune("timezone", |a| a.help(
        "IANA time zone: for --until and for the times written in the plan (use the Moodle server's zone). \
         Default: $MBZ_TIMEZONE, else $TZ, else the system's zone (with a warning naming it)"
    ))),
)]
pub struct PlanArgs {
    /// Backups or folders of backups.
    #[arg(value_name = "ARCHIVE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The plan's format.
    #[arg(long, value_enum)]
    pub format: PlanFormat,
    /// Where to write the plan; `-` writes it to standard output (the summary stays on standard error).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// What to convert, until when (as in convert).
    #[command(flatten)]
    pub conversion: ConversionArgs,
    /// User identifier for tool_sync and JSON (match the site's tool_sync/enrols_useridentifier).
    #[arg(long, value_enum, default_value = "username")]
    pub user_key: UserKeyArg,
    /// Course identifier for tool_sync and JSON (match the site's tool_sync/enrols_courseidentifier).
    #[arg(long, value_enum, default_value = "shortname")]
    pub course_key: CourseKeyArg,
    /// tool_sync's field separator (match the site's tool_sync/csvseparator). Default: `;`.
    #[arg(long, value_enum)]
    pub separator: Option<SeparatorArg>,
    /// tool_sync's file encoding (match the site's tool_sync/encoding). Default: utf-8.
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,
    /// A users-and-roles backup of the course that will receive the enrolments: plan only what changes something,
    /// never shorten or suspend an access it grants, and predict a merge restore.
    #[arg(long, value_name = "TARGET.mbz")]
    pub into: Option<PathBuf>,
    /// The Moodle release of the site that will read the plan, as X.Y (e.g. 4.3). Default: the --into target's
    /// release, else the oldest of the backups' (their moodle_release, else their moodle_version). Upload users
    /// needs 3.10 or later.
    #[arg(long, value_name = "X.Y")]
    pub moodle_version: Option<String>,
    /// The archives come from the site the plan is for, so their numeric ids are valid there (required by ws).
    #[arg(long)]
    pub same_site: bool,
    /// Write the plan even when some archives failed or some rows cannot be applied exactly (Upload users: a numeric
    /// or space-padded group name, no role, and with --into a missing or disabled manual instance, or no end while
    /// it has a default duration): they are listed, and missing from the plan.
    #[arg(long)]
    pub allow_partial: bool,
    /// Replace FILE if it already exists.
    #[arg(long)]
    pub force: bool,
}

/// `apply` arguments.
#[derive(Debug, clap::Args)]
#[command(
    mut_args(tune("until", |a| a.required(true).help("End of access for stamped roles (as in convert)"))),
    mut_args(tune("timezone", |a| a.help(
        "IANA time zone for --until (use the Moodle server's zone). Default: $MBZ_TIMEZONE, else $TZ, else the \
         system's zone (with a warning naming it)"
    ))),
)]
pub struct ApplyArgs {
    /// Backups of the live courses, or folders of them.
    #[arg(value_name = "ARCHIVE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The site's address (its wwwroot, e.g. https://moodle.example.org), or its REST endpoint.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// A file holding the token, readable by its owner only (else $MBZ_MOODLE_TOKEN is used).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// What to convert, until when (as in convert).
    #[command(flatten)]
    pub conversion: ConversionArgs,
    /// How the course is found on the site (checked against the backup's course id).
    #[arg(long, value_enum, default_value = "shortname")]
    pub course_key: CourseKeyArg,
    /// Make the read calls only and print what would be sent, per user.
    #[arg(long)]
    pub dry_run: bool,
    /// Write a report here: .csv or .html (a row per course), .json (every user), by extension; the journals go
    /// beside it.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// A fresh users-and-roles backup of the live course (one ARCHIVE): send only what changes something, never
    /// shortening or suspending an access it grants (as plan --into).
    #[arg(long, value_name = "FRESH.mbz")]
    pub into: Option<PathBuf>,
    /// Courses at once (default 2, so the site is not overloaded).
    #[arg(short, long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: u32,
    /// Allow plain http to a host other than this machine (the token travels unencrypted).
    #[arg(long)]
    pub allow_http: bool,
}

/// `verify` arguments.
#[derive(Debug, clap::Args)]
#[command(mut_args(tune("timezone", |a| a.help(
    "IANA time zone for dates in the report. Default: $MBZ_TIMEZONE, else $TZ, else the system's zone (with a warning naming it)"
))))]
pub struct VerifyArgs {
    /// The backup to check.
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    /// The original it was made from: prove that only enrolment records changed, user by user.
    #[arg(long, value_name = "ORIGINAL")]
    pub against: Option<PathBuf>,
    /// The zone of the dates in the report.
    #[command(flatten)]
    pub zone: ZoneArg,
    /// Print the report as JSON on stdout instead.
    #[arg(long)]
    pub json: bool,
}

/// A `--status` filter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusArg {
    /// Gives access now (enrolment and method enabled, started, not ended).
    Active,
    /// Enrolment suspended or its method disabled.
    Suspended,
    /// End date in the past (relative to --now).
    Expired,
    /// Not active: suspended, disabled, expired or not started (the participants page's "Inactive").
    Inactive,
    /// Every enrolment.
    Any,
}

/// A `--set-status` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SetStatusArg {
    /// Reactivate.
    Active,
    /// Suspend.
    Suspended,
}

/// `renew` arguments. Its own options keep their places in the help (explicit orders); -o comes first.
#[derive(Debug, clap::Args)]
#[command(
    mut_args(tune("output", |a| a.display_order(0).help(
        "Where to write the result (same container), or the output folder for several inputs. Required unless \
         --dry-run"
    ))),
    mut_args(tune("timezone", |a| a.display_order(10).help(
        "IANA time zone for dates. Default: $MBZ_TIMEZONE, else $TZ, else the system's zone (with a warning naming it)"
    ))),
    mut_args(tune("force", |a| a.help("Replace OUT if it already exists (a single archive)"))),
    mut_args(tune("verify", |a| a.help("Verify the output against the input after writing; exit 1 if it fails"))),
)]
pub struct RenewArgs {
    /// The backup to change (.mbz, tar.gz or zip), or several backups and folders (then OUT is a folder and the
    /// archives are processed as by `batch`: relative paths mirrored, one failure never stopping the rest).
    #[arg(value_name = "IN", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Filter: enrolment methods (enrol plugin names).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "manual,self",
        display_order = 1
    )]
    pub method: Vec<String>,
    /// Filter: role shortnames held in the course, e.g. student.
    #[arg(long, value_name = "LIST", value_delimiter = ',', display_order = 2)]
    pub role: Vec<String>,
    /// Filter: enrolment status at --now.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_enum,
        display_order = 3
    )]
    pub status: Vec<StatusArg>,
    /// Filter: group name (repeat for several; names may contain commas).
    #[arg(long, value_name = "NAME", display_order = 4)]
    pub group: Vec<String>,
    /// Filter: usernames.
    #[arg(long, value_name = "LIST", value_delimiter = ',', display_order = 5)]
    pub user: Vec<String>,
    /// "Now" for --status active/expired/inactive and the warnings (a date as for --until). Default: the current time.
    #[arg(long, value_name = "DATE", display_order = 6)]
    pub now: Option<String>,
    /// Action: set the enrolment status.
    #[arg(long, value_name = "STATUS", value_enum, display_order = 7)]
    pub set_status: Option<SetStatusArg>,
    /// Action: set the start (YYYY-MM-DD = that day's first instant, or as --until).
    #[arg(long, value_name = "DATE", display_order = 8)]
    pub start: Option<String>,
    /// Action: set the end: a date as in convert (YYYY-MM-DD = through that whole day), or `none` for unlimited.
    #[arg(long, value_name = "DATE|none", display_order = 9)]
    pub until: Option<String>,
    /// The zone of the dates.
    #[command(flatten)]
    pub zone: ZoneArg,
    /// Which restore the report promises.
    #[command(flatten)]
    pub target: TargetArg,
    /// Where and how to write.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `inspect` arguments.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The backup to inspect.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Print JSON on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lists_split_on_commas() {
        let cli = Cli::try_parse_from([
            "mbz-enrol",
            "convert",
            "a.mbz",
            "-o",
            "b.mbz",
            "--until",
            "2027-08-31",
            "--from",
            "cohort,meta",
        ])
        .unwrap();
        let Command::Convert(c) = cli.command else {
            panic!("not convert")
        };
        assert_eq!(c.conversion.from, ["cohort", "meta"]);
        assert_eq!(c.conversion.stamp_roles, ["student"]);
    }
}
