//! `plan`: convert each archive in memory, turn the result into actions, and write them in the chosen format.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use mbz_enrol::ConvertOptions;
use mbz_enrol::archive::output::Atomic;
use mbz_enrol::backup::Release;
use mbz_enrol::plan::{self, CourseKey, CoursePlan, FormatError, Keys, Settings, UserKey, into};

use super::args::{CourseKeyArg, EncodingArg, PlanArgs, SeparatorArg, UserKeyArg};
use super::render;
use super::resolve::{self, clean_list};

/// `--format` of `plan`: one of the library's formats ([`plan::FORMATS`]), offered by its name.
#[derive(Clone, Copy)]
pub struct PlanFormat(&'static plan::Format);

impl clap::ValueEnum for PlanFormat {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: std::sync::LazyLock<Vec<PlanFormat>> =
            std::sync::LazyLock::new(|| plan::FORMATS.iter().copied().map(PlanFormat).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let mut help = self.0.about().to_owned();
        if self.0.keys() == Keys::SourceIds {
            help.push_str(" (needs --same-site)");
        }
        Some(clap::builder::PossibleValue::new(self.0.name()).help(help))
    }
}

/// Prints the name capitalised (`Uploaduser`), as the summary line has always shown it.
impl std::fmt::Debug for PlanFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut name = self.0.name().chars();
        if let Some(first) = name.next() {
            write!(f, "{}", first.to_uppercase())?;
        }
        f.write_str(name.as_str())
    }
}

/// Runs `plan`.
pub fn run(a: PlanArgs, globals: super::Globals) -> Result<ExitCode> {
    let mut err = globals.err();
    let (tz, source) = resolve::zone(a.conversion.zone.timezone.as_deref(), &mut err)?;
    // Required by clap.
    let until_text = a.conversion.until.as_deref().unwrap_or_default();
    writeln!(
        err,
        "time zone: {tz} (from {source}); plan times are written in it"
    )?;
    let from = resolve::sources(a.conversion.from, false)?;
    let until = resolve::until(until_text, tz, &mut err)?;
    let user_key = match a.user_key {
        UserKeyArg::Username => UserKey::Username,
        UserKeyArg::Idnumber => UserKey::Idnumber,
        UserKeyArg::Email => UserKey::Email,
        UserKeyArg::Id => UserKey::Id,
    };
    let course_key = match a.course_key {
        CourseKeyArg::Shortname => CourseKey::Shortname,
        CourseKeyArg::Idnumber => CourseKey::Idnumber,
        CourseKeyArg::Id => CourseKey::Id,
    };
    let format = a.format.0;
    if format.name() != "toolsync" && (a.separator.is_some() || a.encoding.is_some()) {
        bail!("--separator and --encoding apply to --format toolsync only");
    }
    let separator = match a.separator {
        Some(SeparatorArg::Comma) => plan::Separator::Comma,
        Some(SeparatorArg::Semicolon) | None => plan::Separator::Semicolon,
    };
    let encoding = match a.encoding {
        Some(EncodingArg::Latin1) => plan::Encoding::Latin1,
        Some(EncodingArg::Utf8) | None => plan::Encoding::Utf8,
    };
    // `-o -`: the plan goes to standard output; there is no file to protect or to check.
    let to_stdout = a.output.as_os_str() == "-";
    if format.keys() == Keys::SourceIds && !a.same_site {
        bail!(
            "--format {} sends the backup's numeric user, course and role ids: they are valid only on the site that \
             made the backup; add --same-site if that is the site the plan is for",
            format.name()
        );
    }
    if !a.same_site && (user_key == UserKey::Id || course_key == CourseKey::Id) {
        writeln!(
            err,
            "warning: id keys are the backup's source-site ids; they are valid only on that site (--same-site)"
        )?;
    }
    if let Keys::Fixed { user, course } = format.keys()
        && (user_key != user || course_key != course)
    {
        let chosen: Vec<&str> = plan::FORMATS
            .iter()
            .filter(|f| f.keys() == Keys::Chosen)
            .map(|f| f.name())
            .collect();
        writeln!(
            err,
            "note: {} matches users by {} and courses by {}; --user-key/--course-key apply to {}",
            format.title(),
            format!("{user:?}").to_lowercase(),
            format!("{course:?}").to_lowercase(),
            chosen.join(" and ")
        )?;
    }
    let opts = ConvertOptions {
        from,
        stamp_roles: clean_list(a.conversion.stamp_roles),
        until: until.epoch,
        ..Default::default()
    };
    let found = super::find_backups(&a.inputs, &mut err)?;
    if !to_stdout {
        check_output(&a.output, &a.inputs, a.force, &found.jobs)?;
    }
    let mut plans: Vec<CoursePlan> = Vec::new();
    // A file named *.mbz that is no archive, or a file or folder that cannot be read, is a course possibly missing
    // from the plan, as one that fails to read.
    let mut failed = super::failed_unreadable(&mut err, &found.unreadable, "FAILED")?;
    for job in &found.jobs {
        match mbz_enrol::job::plan_file_limited(&job.input, &opts, &globals.limits) {
            Ok(mut p) => {
                super::render::hint_flags(&mut p.warnings);
                plans.push(p);
            }
            Err(e) => {
                failed += 1;
                writeln!(err, "FAILED {}: {}", job.relative, super::hint::chain(&e))?;
            }
        }
    }
    if failed > 0 && !a.allow_partial {
        bail!(
            "{failed} archive(s) failed: no plan written (a plan missing courses is easy to apply by mistake; \
             fix or remove them, or pass --allow-partial)"
        );
    }
    // One plan row per (user, course): two backups of one course would contradict each other.
    let mut seen: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for p in &plans {
        let key = p
            .course
            .id
            .map(|i| format!("id {i}"))
            .unwrap_or_else(|| format!("shortname {}", p.course.shortname));
        if let Some(first) = seen.insert(key.clone(), &p.archive) {
            bail!(
                "course {} ({key}) is in both {first} and {}: give one backup per course",
                p.course.shortname,
                p.archive
            );
        }
    }
    let target_release = match &a.into {
        Some(target) => apply_into(&mut plans, target, tz, &mut err, &globals.limits)?,
        None => None,
    };
    let moodle = moodle_release(
        a.moodle_version.as_deref(),
        target_release,
        &plans,
        &mut err,
    )?;
    let settings = Settings {
        tz,
        user_key,
        course_key,
        separator,
        encoding,
        now: mbz_enrol::time::now_epoch(),
        allow_partial: a.allow_partial,
        moodle,
    };
    let mut buf = Vec::new();
    let written = format.write(&plans, &settings, &mut buf).map_err(|e| {
        let archive = failing_archive(&e, &plans, |one| {
            format.write(one, &settings, &mut std::io::sink()).err()
        });
        format_error(e, format.name() == "uploaduser", archive)
    })?;
    let actions: usize = plans.iter().map(|p| p.actions.len()).sum();
    let place = if to_stdout {
        std::io::stdout().lock().write_all(&buf)?;
        "standard output".to_owned()
    } else {
        let input = a
            .inputs
            .first()
            .map(std::path::PathBuf::as_path)
            .unwrap_or(std::path::Path::new(""));
        mbz_enrol::archive::output::check(input, &a.output)?;
        let mut out = Atomic::new(&a.output)?;
        out.file().write_all(&buf).map_err(|e| out.write_error(e))?;
        out.commit()?;
        a.output.display().to_string()
    };
    writeln!(
        err,
        "plan: {} {} written to {} ({}): {} of {} for {}{}",
        written.rows,
        written.unit,
        place,
        a.format.0.title(),
        actions - written.left_out,
        render::count(actions, "action", "actions"),
        render::count(plans.len(), "course", "courses"),
        if written.left_out > 0 {
            format!(" ({} left out, listed below)", written.left_out)
        } else {
            String::new()
        }
    )?;
    for p in &plans {
        for w in &p.warnings {
            writeln!(err, "warning: {}: {w}", p.course.shortname)?;
        }
    }
    for w in &written.warnings {
        writeln!(err, "warning: {w}")?;
    }
    if let Some(assumed) = &written.assumed {
        writeln!(
            err,
            "assumed for courses not compared with --into: {assumed}; --into LIVE.mbz, a backup of the target course, checks each row"
        )?;
    }
    if let Some(note) = format.import_note(&settings) {
        // The command names the plan file written, when there is one, by its full path (it runs from the
        // Moodle directory).
        let note = match std::fs::canonicalize(&a.output) {
            Ok(path) if !to_stdout => note.replace(
                &format!("--file={}", plan::PLAN_FILE),
                &format!("--file={}", shell_word(&path.display().to_string())),
            ),
            _ => note,
        };
        writeln!(err, "{note}")?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `text` as one POSIX shell word: as is when it holds only safe characters, else single-quoted.
fn shell_word(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:,=@%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Refuses an output file that exists (without `--force`), would replace an input archive or lands inside an
/// input folder.
fn check_output(
    output: &std::path::Path,
    inputs: &[std::path::PathBuf],
    force: bool,
    jobs: &[mbz_enrol::batch::Job],
) -> Result<()> {
    super::refuse_existing(output, force)?;
    // The plan file must not replace an input archive or land inside an input folder.
    for job in jobs {
        mbz_enrol::archive::output::check(&job.input, output)?;
    }
    let out_dir = std::fs::canonicalize(
        output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new(".")),
    )
    .unwrap_or_default();
    for input in inputs {
        if input.is_dir()
            && let Ok(root) = std::fs::canonicalize(input)
            && out_dir.starts_with(&root)
        {
            bail!(
                "-o {} is inside input folder {}: write the plan outside the backups",
                output.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// The release of the site that will read the plan: `--moodle-version`, else the `--into` target's, else the
/// oldest of the backups'. Says which, once.
fn moodle_release(
    given: Option<&str>,
    target: Option<Release>,
    plans: &[CoursePlan],
    err: &mut impl Write,
) -> Result<Option<Release>> {
    let (release, from) = if let Some(text) = given {
        let Some(r) = Release::parse(text).filter(|r| r.to_string() == text.trim()) else {
            bail!("--moodle-version {text}: give the release as X.Y (e.g. 4.3)");
        };
        (Some(r), "--moodle-version")
    } else if target.is_some() {
        (
            target,
            "the --into target's moodle_release or moodle_version",
        )
    } else {
        (
            plans.iter().filter_map(|p| p.release).min(),
            "the backups' moodle_release or moodle_version",
        )
    };
    match release {
        Some(r) => writeln!(err, "Moodle release: {r} (from {from})")?,
        None => writeln!(
            err,
            "Moodle release: unknown (no readable moodle_release or moodle_version in the backups; --moodle-version \
             X.Y sets it)"
        )?,
    }
    Ok(release)
}

/// The archive whose row raised `e`, for a row's error (not one of the whole file's: a release, the output): the
/// first plan that raises the same error written alone, so that two backups of courses with the same shortname
/// and users are told apart.
fn failing_archive<'p>(
    e: &FormatError,
    plans: &'p [CoursePlan],
    alone: impl Fn(&[CoursePlan]) -> Option<FormatError>,
) -> Option<&'p str> {
    let row = matches!(
        e,
        FormatError::MissingKey { .. }
            | FormatError::Inexact { .. }
            | FormatError::Unreadable { .. }
            | FormatError::LineTooLong { .. }
    );
    if !row {
        return None;
    }
    let text = e.to_string();
    plans
        .iter()
        .find(|p| alone(std::slice::from_ref(p)).is_some_and(|e| e.to_string() == text))
        .map(|p| p.archive.as_str())
}

/// A format error, named after the `archive` its row comes from (when known), with the hint for an empty
/// identifier, a release too old, or a row not applied exactly (when the format `leaves_out` such rows with
/// `--allow-partial`).
fn format_error(e: FormatError, leaves_out: bool, archive: Option<&str>) -> anyhow::Error {
    // Named first, as every other error names its archive.
    let archive = archive
        .map(|a| format!("archive `{a}`: "))
        .unwrap_or_default();
    match e {
        FormatError::MissingKey { .. } => {
            anyhow::anyhow!("{archive}{e}; choose another --user-key/--course-key")
        }
        FormatError::UnknownColumn { .. } => anyhow::anyhow!(
            "{e}. Instead: --format toolsync (the tool_sync plugin reads start and end dates) or --format ws \
             (web services), or upgrade the site; if it already runs 3.10 or later, give --moodle-version"
        ),
        FormatError::Inexact { .. } | FormatError::Unreadable { .. } if leaves_out => {
            anyhow::anyhow!(
                "{archive}{e}; no plan written (--allow-partial leaves such rows out and lists them)"
            )
        }
        FormatError::Inexact { .. }
        | FormatError::Unreadable { .. }
        | FormatError::LineTooLong { .. } => {
            anyhow::anyhow!("{archive}{e}")
        }
        e => e.into(),
    }
}

/// `--into`: compares the plans with the target's manual enrolments ([`into::compare_plans`]) and prints the
/// comparison. Returns the target's release.
pub(super) fn apply_into(
    plans: &mut [CoursePlan],
    target: &std::path::Path,
    tz: chrono_tz::Tz,
    err: &mut impl Write,
    limits: &mbz_enrol::archive::Limits,
) -> Result<Option<Release>> {
    let (course, current, found) = mbz_enrol::job::plan_target(target, limits)?;
    let comparison = into::compare_plans(
        plans,
        course.id,
        course.shortname.as_deref(),
        &current,
        &found,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "--into {}: its course ({}) is none of the planned courses",
            target.display(),
            e.shortname.as_deref().unwrap_or("?")
        )
    })?;
    writeln!(
        err,
        "compared with {} (manual enrolments of the target course):",
        target.display()
    )?;
    writeln!(
        err,
        "  its manual instance: {}",
        match &found.manual {
            None => "none".to_owned(),
            Some(m) => format!(
                "{}, default duration {}, default role {}",
                if m.enabled { "enabled" } else { "disabled" },
                match m.enrolperiod {
                    0 => "none".to_owned(),
                    p => format!("{} days", p as f64 / 86_400.0),
                },
                match (&m.role, m.roleid) {
                    (_, 0) => "none".to_owned(),
                    (Some(name), _) => name.clone(),
                    (None, id) => format!("id {id}"),
                }
            ),
        }
    )?;
    for row in &comparison.rows {
        let outcome = &row.outcome;
        writeln!(
            err,
            "  {:<12} {:<20} plan {}; target {}; merge restore would give {} ({})",
            outcome.kind,
            row.username,
            super::render::values(&row.planned, tz),
            outcome
                .target
                .as_ref()
                .map_or("none".to_owned(), |v| super::render::values(v, tz)),
            super::render::values(&outcome.merge_restore, tz),
            outcome.why
        )?;
    }
    writeln!(
        err,
        "  totals: {}",
        comparison
            .totals()
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(found.release)
}
