//! The binary's side: arguments, rendering to the terminal, exit codes. No rules live here.

pub mod args;
mod batch;
pub(crate) mod hint;
mod plan;
pub mod render;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mbz_enrol::ConvertOptions;
use mbz_enrol::run::inspect_file_limited;
use mbz_enrol::time::{self, Precision};

use args::{
    Cli, Command, ConvertArgs, InspectArgs, RenewArgs, SetStatusArg, StatusArg, VerifyArgs,
};

/// The global options: how much goes to stderr, and the reading limits.
#[derive(Debug, Clone, Copy)]
pub struct Globals {
    /// Errors only.
    pub quiet: bool,
    /// Per-user detail.
    pub verbose: bool,
    /// Reading limits.
    pub limits: mbz_enrol::archive::Limits,
}

impl Globals {
    /// Where summaries go: stderr, or nowhere with --quiet.
    pub fn err(self) -> Box<dyn Write> {
        if self.quiet {
            Box::new(std::io::sink())
        } else {
            Box::new(std::io::stderr())
        }
    }
}

/// Runs the parsed command; the exit code on success.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let v = Globals {
        quiet: cli.quiet,
        verbose: cli.verbose,
        limits: mbz_enrol::archive::Limits {
            max_xml: cli.max_xml_mib.saturating_mul(1 << 20),
            max_total: cli.max_total_gib.saturating_mul(1 << 30),
        },
    };
    match cli.command {
        Command::Convert(a) => convert(a, v),
        Command::Batch(a) => batch::run(a, v),
        Command::Plan(a) => plan::run(a, v),
        Command::Renew(a) => renew(a, v),
        Command::Inspect(a) => inspect(a, v),
        Command::Verify(a) => verify(a, v),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "mbz-enrol", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Ctrl-C sets the returned flag: the write in progress stops at the next member and removes its temp file.
pub(crate) fn interruptible() -> mbz_enrol::archive::Cancel {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let set = flag.clone();
    let _ = ctrlc::set_handler(move || set.store(true, std::sync::atomic::Ordering::SeqCst));
    mbz_enrol::archive::Cancel::on(flag)
}

/// Resolves the zone, with the closest IANA names as a hint when the name is unknown.
pub(crate) fn zone(flag: Option<&str>) -> Result<(chrono_tz::Tz, time::ZoneSource)> {
    time::resolve_zone(flag).map_err(|e| {
        let given = flag
            .map(str::to_owned)
            .or_else(|| std::env::var("TZ").ok())
            .unwrap_or_default();
        let close = closest_zones(given.trim_start_matches(':'));
        if close.is_empty() {
            anyhow::Error::from(e)
        } else {
            anyhow::anyhow!("{e}; did you mean {}?", close.join(", "))
        }
    })
}

/// Up to three IANA names closest to `name` (case-insensitive edit distance, or containing it).
fn closest_zones(name: &str) -> Vec<&'static str> {
    let want = name.to_lowercase();
    if want.is_empty() {
        return Vec::new();
    }
    let distance = |a: &str, b: &str| {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut prev = row[0];
            row[0] = i;
            for j in 1..=b.len() {
                let cur = row[j];
                row[j] = (row[j] + 1)
                    .min(row[j - 1] + 1)
                    .min(prev + usize::from(a[i - 1] != b[j - 1]));
                prev = cur;
            }
        }
        row[b.len()]
    };
    let mut scored: Vec<(usize, &'static str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .filter(|tz| tz.name().contains('/'))
        .map(|tz| {
            let n = tz.name();
            let l = n.to_lowercase();
            let last = l.rsplit('/').next().unwrap_or(&l).to_owned();
            let d = if l.contains(&want) || want.contains(&last) {
                0
            } else {
                distance(&want, &l).min(distance(&want, &last) + 2)
            };
            (d, n)
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .filter(|(d, _)| *d <= want.len() / 2 + 1)
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

/// `--verify` after a write: the summary on stderr, exit 1 when a check fails.
fn verify_output(
    err: &mut impl Write,
    wanted: bool,
    output: Option<&std::path::Path>,
    input: &std::path::Path,
    tz: chrono_tz::Tz,
    limits: &mbz_enrol::archive::Limits,
) -> Result<(ExitCode, Option<mbz_enrol::verify::Verification>)> {
    let Some(out) = output.filter(|_| wanted) else {
        return Ok((ExitCode::SUCCESS, None));
    };
    let v = mbz_enrol::verify::verify_file_limited(out, Some(input), limits)?;
    render::verification(err, &v, tz, false)?;
    if v.passed {
        return Ok((ExitCode::SUCCESS, Some(v)));
    }
    writeln!(
        err,
        "verify: the output FAILED verification (kept at {})",
        out.display()
    )?;
    Ok((ExitCode::from(1), Some(v)))
}

/// Refuses to replace an existing output unless `--force`.
pub(crate) fn refuse_existing(out: &std::path::Path, force: bool) -> Result<()> {
    if !force && std::fs::symlink_metadata(out).is_ok() {
        bail!(
            "{} already exists: choose another path, or add --force to replace it",
            out.display()
        );
    }
    Ok(())
}

/// Output settings: `level`, every core, and `cancel`.
pub(crate) fn write_options(
    level: u32,
    cancel: mbz_enrol::archive::Cancel,
    globals: Globals,
) -> mbz_enrol::archive::WriteOptions {
    mbz_enrol::archive::WriteOptions {
        level,
        cancel,
        limits: globals.limits,
        ..mbz_enrol::archive::WriteOptions::default()
    }
}

pub(crate) fn clean_list(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let s = s.trim().to_owned();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn convert(a: ConvertArgs, globals: Globals) -> Result<ExitCode> {
    if a.input.is_dir() {
        bail!(
            "{} is a folder: convert takes one backup; for a whole folder use\n  mbz-enrol batch {} -o OUTDIR --until DATE",
            a.input.display(),
            a.input.display()
        );
    }
    if a.output.is_none() && !a.dry_run {
        bail!("convert needs -o OUT (or --dry-run to write nothing)");
    }
    if let Some(out) = &a.output
        && !a.dry_run
    {
        // The input itself is the more useful thing to say.
        mbz_enrol::archive::output::check(&a.input, out)?;
        refuse_existing(out, a.force)?;
    }
    let from = clean_list(a.from);
    if from.is_empty() {
        bail!("--from needs at least one enrolment method, e.g. --from database,cohort");
    }
    if from.iter().any(|m| m == "manual") {
        bail!(
            "--from manual: manual enrolments are the conversion's target, not a source (use `renew` to change them)"
        );
    }
    let stamp_roles = clean_list(a.stamp_roles);
    let (tz, source) = zone(a.timezone.as_deref())?;
    let until = time::parse_end(&a.until, tz).with_context(|| "--until")?;
    let now = time::now_epoch();
    let mut err = globals.err();
    let what = match until.precision {
        Precision::Day => format!("access through {} ", a.until),
        Precision::Instant => String::new(),
    };
    writeln!(
        err,
        "until: {}{} = {} ({tz}, zone from {source})",
        what,
        until.epoch,
        time::format_iso(until.epoch, tz)
    )?;
    for w in &until.warnings {
        writeln!(err, "warning: {w}")?;
    }
    if until.epoch <= now {
        writeln!(
            err,
            "warning: --until {} is in the past: stamped users will have no access after restore",
            a.until
        )?;
    }
    let opts = ConvertOptions {
        from,
        stamp_roles,
        until: until.epoch,
    };
    let output = if a.dry_run { None } else { a.output.as_deref() };
    let write = write_options(a.level, interruptible(), globals);
    let outcome = mbz_enrol::run::convert_file_with(&a.input, output, &write, |_| Ok(opts))?;
    render::convert_summary(&mut err, &outcome, tz, a.dry_run)?;
    if globals.verbose {
        render::convert_users(&mut err, &outcome, tz)?;
    }
    let (code, verification) =
        verify_output(&mut err, a.verify, output, &a.input, tz, &write.limits)?;
    if a.json {
        let mut v = serde_json::to_value(&outcome)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("until_iso".into(), time::format_iso(until.epoch, tz).into());
            m.insert("timezone".into(), tz.name().into());
            m.insert("dry_run".into(), a.dry_run.into());
            if let Some(ver) = &verification {
                m.insert("verification".into(), serde_json::to_value(ver)?);
            }
        }
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    }
    Ok(code)
}

fn inspect(a: InspectArgs, globals: Globals) -> Result<ExitCode> {
    let inspection = inspect_file_limited(&a.input, &globals.limits)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &inspection)?;
        writeln!(out)?;
    } else {
        render::inspection(&mut out, &inspection)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs, globals: Globals) -> Result<ExitCode> {
    // Dates are only displayed here: an unusable $TZ falls back to UTC instead of failing the proof.
    let tz = match time::resolve_zone(a.timezone.as_deref()) {
        Ok((tz, _)) => tz,
        Err(e) if a.timezone.is_none() => {
            eprintln!("warning: {e}; showing dates in UTC");
            chrono_tz::UTC
        }
        Err(e) => return Err(e.into()),
    };
    let v =
        mbz_enrol::verify::verify_file_limited(&a.archive, a.against.as_deref(), &globals.limits)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        render::verification(&mut out, &v, tz, true)?;
    }
    Ok(if v.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints a resolved date to stderr, with its warnings.
fn announce(
    err: &mut impl Write,
    what: &str,
    input: &str,
    r: &time::Resolved,
    tz: chrono_tz::Tz,
) -> Result<()> {
    writeln!(
        err,
        "{what}: {input} = {} ({})",
        r.epoch,
        time::format_iso(r.epoch, tz)
    )?;
    for w in &r.warnings {
        writeln!(err, "warning: {w}")?;
    }
    Ok(())
}

fn renew(a: RenewArgs, globals: Globals) -> Result<ExitCode> {
    use mbz_enrol::enrol::renew::{Options, Status};
    if a.output.is_none() && !a.dry_run {
        bail!("renew needs -o OUT (or --dry-run to write nothing)");
    }
    if a.set_status.is_none() && a.start.is_none() && a.until.is_none() {
        bail!("renew needs at least one action: --set-status, --start or --until");
    }
    let (tz, source) = zone(a.timezone.as_deref())?;
    let mut err = globals.err();
    writeln!(err, "time zone: {tz} (from {source})")?;
    let now = match &a.now {
        Some(s) => {
            let r = time::parse_start(s, tz).with_context(|| "--now")?;
            announce(&mut err, "now", s, &r, tz)?;
            r.epoch
        }
        None => time::now_epoch(),
    };
    let start = match &a.start {
        Some(s) => {
            let r = time::parse_start(s, tz).with_context(|| "--start")?;
            announce(&mut err, "start", s, &r, tz)?;
            Some(r.epoch)
        }
        None => None,
    };
    let until = match a.until.as_deref() {
        Some("none") => {
            writeln!(err, "until: none (unlimited)")?;
            Some(0)
        }
        Some(s) => {
            let r = time::parse_end(s, tz).with_context(|| "--until")?;
            announce(&mut err, "until", s, &r, tz)?;
            if r.epoch <= now {
                writeln!(
                    err,
                    "warning: --until {s} is before --now: matched enrolments will give no access"
                )?;
            }
            Some(r.epoch)
        }
        None => None,
    };
    let statuses = a
        .status
        .iter()
        .map(|s| match s {
            StatusArg::Active => Status::Active,
            StatusArg::Suspended => Status::Suspended,
            StatusArg::Expired => Status::Expired,
            StatusArg::Inactive => Status::Inactive,
            StatusArg::Any => Status::Any,
        })
        .collect();
    let methods = clean_list(a.method.clone());
    for m in methods
        .iter()
        .filter(|m| !matches!(m.as_str(), "manual" | "self"))
    {
        writeln!(
            err,
            "warning: --method {m}: the bulk edit is for manual and self enrolments; a synced method ({m}) \
             rewrites its own enrolments at its next sync"
        )?;
    }
    let opts = Options {
        methods,
        roles: clean_list(a.role.clone()),
        statuses,
        groups: a.group.clone(),
        users: clean_list(a.user.clone()),
        now,
        set_status: a.set_status.map(|s| match s {
            SetStatusArg::Active => 0,
            SetStatusArg::Suspended => 1,
        }),
        start,
        until,
    };
    let write = write_options(a.level, interruptible(), globals);
    let single = a.inputs.len() == 1 && a.inputs[0].is_file();
    if !single {
        // Workers print to stderr: release this thread's lock on it first.
        drop(err);
        return renew_many(&a, &opts, &write, tz, now, globals);
    }
    let input = a.inputs[0].clone();
    let output = if a.dry_run { None } else { a.output.as_deref() };
    if let Some(out) = output {
        mbz_enrol::archive::output::check(&input, out)?;
        refuse_existing(out, a.force)?;
    }
    let outcome = mbz_enrol::run::renew_file_with(&input, output, &opts, &write)?;
    render::renew_summary(&mut err, &outcome, tz)?;
    let (code, verification) =
        verify_output(&mut err, a.verify, output, &input, tz, &write.limits)?;
    if a.json {
        let mut v = serde_json::to_value(&outcome)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("timezone".into(), tz.name().into());
            m.insert("now".into(), now.into());
            m.insert("dry_run".into(), a.dry_run.into());
            if let Some(ver) = &verification {
                m.insert("verification".into(), serde_json::to_value(ver)?);
            }
        }
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    }
    Ok(code)
}

/// `renew` over several archives or folders: the batch driver (mirrored paths, isolation, exit 1 on failures).
fn renew_many(
    a: &RenewArgs,
    opts: &mbz_enrol::enrol::renew::Options,
    write: &mbz_enrol::archive::WriteOptions,
    tz: chrono_tz::Tz,
    now: i64,
    globals: Globals,
) -> Result<ExitCode> {
    let outdir = match (&a.output, a.dry_run) {
        (Some(o), _) => o.clone(),
        (None, true) => std::path::PathBuf::from(".mbz-enrol-dry-run"),
        (None, false) => bail!("renew with several inputs needs -o OUTDIR (or --dry-run)"),
    };
    if outdir.is_file() {
        bail!(
            "-o {} is a file: with several inputs or a folder, -o names the output folder",
            outdir.display()
        );
    }
    let discovery = mbz_enrol::batch::discover(&a.inputs, &outdir, None, false)?;
    let mut err = globals.err();
    for s in &discovery.skipped {
        writeln!(err, "skipped {}: {}", s.relative, s.reason)?;
    }
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let lines = std::sync::Mutex::new(());
    let results = mbz_enrol::batch::run(
        &discovery.jobs,
        jobs,
        !a.dry_run,
        &write.cancel,
        |job| {
            let out = (!a.dry_run).then_some(job.output.as_path());
            let o = mbz_enrol::run::renew_file_with(&job.input, out, opts, write)?;
            if a.verify
                && let Some(out) = out
            {
                let v =
                    mbz_enrol::verify::verify_file_limited(out, Some(&job.input), &write.limits)?;
                if !v.passed {
                    let _ = std::fs::remove_file(out);
                    return Err(mbz_enrol::Error::VerifyFailed {
                        path: out.to_path_buf(),
                        checks: v.failed().map(|c| c.name).collect::<Vec<_>>().join(", "),
                    });
                }
            }
            Ok(o)
        },
        |job, result, _| {
            if globals.quiet {
                return;
            }
            let _guard = lines.lock();
            match result {
                Ok(o) => eprintln!(
                    "ok  {}: {} matched, {} changed{}",
                    job.relative,
                    o.report.matched.len(),
                    o.report.changed,
                    if o.report.warnings.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} warnings)", o.report.warnings.len())
                    }
                ),
                Err(e) => eprintln!("FAILED  {}: {}", job.relative, hint::link(e)),
            }
        },
    );
    let failed = results.iter().filter(|(r, _)| r.is_err()).count() + discovery.unreadable.len();
    for s in &discovery.unreadable {
        writeln!(err, "FAILED  {}: {}", s.relative, s.reason)?;
    }
    writeln!(
        err,
        "done: {} renewed, {failed} failed, {} skipped",
        results.len() - results.iter().filter(|(r, _)| r.is_err()).count(),
        discovery.skipped.len()
    )?;
    if a.json {
        let outcomes: Vec<serde_json::Value> = discovery
            .jobs
            .iter()
            .zip(&results)
            .map(|(job, (r, _))| match r {
                Ok(o) => serde_json::to_value(o).unwrap_or_default(),
                Err(e) => serde_json::json!({"archive": job.input.display().to_string(), "error": hint::link(e)}),
            })
            .collect();
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"timezone": tz.name(), "now": now, "dry_run": a.dry_run, "archives": outcomes}),
        )?;
        writeln!(out)?;
    }
    Ok(if write.cancel.is_set() {
        ExitCode::from(130)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
