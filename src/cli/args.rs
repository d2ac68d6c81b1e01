//! Command-line arguments (clap derive, no logic).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Turn database/cohort (and other synced) enrolments into manual ones inside Moodle backups (.mbz),
/// with end dates, offline.
#[derive(Debug, Parser)]
#[command(name = "mbz-enrol", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert synced enrolments into manual ones, stamp end dates, write a restorable .mbz.
    ///
    /// All user enrolments of the converted methods merge into the course's manual instance (one per user),
    /// keeping roles and group memberships. Users holding a --stamp-roles role get the --until end date.
    /// Every other archive member is copied byte for byte. The input is never modified.
    Convert(ConvertArgs),
    /// Show what a backup holds: container, release, course, enrolment methods and their users.
    Inspect(InspectArgs),
    /// Prove that a backup will restore, and with --against that only enrolment records changed.
    ///
    /// Exit 0 when every check passes, 1 when one fails (each failure listed), 2 when the archive cannot be read.
    Verify(VerifyArgs),
}

/// `convert` arguments.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The backup to convert (.mbz, tar.gz or zip: detected from its content).
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the converted backup (same container as the input). Required unless --dry-run.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// End of access: YYYY-MM-DD (through that whole day), YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z], or @EPOCH.
    #[arg(long, value_name = "DATE")]
    pub until: String,
    /// IANA time zone for --until (e.g. Europe/Paris). Default: $TZ, else the system's zone.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Enrolment methods to convert (enrol plugin names, comma-separated), e.g. database,cohort,meta,ldap.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "database,cohort"
    )]
    pub from: Vec<String>,
    /// Role shortnames whose holders get the --until end date; others keep their computed end.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "student"
    )]
    pub stamp_roles: Vec<String>,
    /// Report what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON on stdout (the human summary still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Verify the output against the input after writing (as `verify OUT --against IN`); exit 1 if it fails.
    #[arg(long)]
    pub verify: bool,
}

/// `verify` arguments.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The backup to check.
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    /// The original it was made from: prove that only enrolment records changed, user by user.
    #[arg(long, value_name = "ORIGINAL")]
    pub against: Option<PathBuf>,
    /// IANA time zone for dates in the report. Default: $TZ, else the system's zone.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Print the report as JSON on stdout instead.
    #[arg(long)]
    pub json: bool,
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
        assert_eq!(c.from, ["cohort", "meta"]);
        assert_eq!(c.stamp_roles, ["student"]);
    }
}
