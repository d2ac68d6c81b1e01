//! `batch`: options to per-archive jobs, progress on the terminal (or one line per archive), the report.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use mbz_enrol::batch::{self, Job, Shard, UntilMap};
use mbz_enrol::job::{Settings, Verify};
use mbz_enrol::report::{self, Row};
use mbz_enrol::time;
use mbz_enrol::{ConvertOptions, Error};

use super::args::BatchArgs;
use super::hint::chain;
use super::resolve::{self, clean_list};
use super::skip_reason;

/// Runs a batch.
pub fn run(a: BatchArgs, globals: super::Globals) -> Result<ExitCode> {
    let started = time::now_epoch();
    let mut err = globals.err();
    let (tz, source) = resolve::zone(a.conversion.zone.timezone.as_deref(), &mut err)?;
    writeln!(err, "time zone: {tz} (from {source})")?;
    let from = resolve::sources(a.conversion.from.clone(), false)?;
    let stamp_roles = clean_list(a.conversion.stamp_roles.clone());
    let given = options_given(&a, &from, &stamp_roles);
    let default_until = match &a.conversion.until {
        Some(s) => {
            let r = resolve::date("--until", s, tz, true)?;
            writeln!(
                err,
                "until: {s}: access through {}",
                super::render::last_second(r.epoch, tz)
            )?;
            Some(r.epoch)
        }
        None => None,
    };
    if let Some(path) = &a.report {
        report_kind(path)?;
    }
    let map = match &a.until_map {
        Some(path) => UntilMap::read(path).map_err(|e| anyhow::anyhow!("--until-map {e}"))?,
        None => UntilMap::default(),
    };
    let mut epochs: Vec<i64> = Vec::new();
    for row in &map.rows {
        let path = a.until_map.as_deref().unwrap_or(Path::new(""));
        let r = time::parse_end(&row.until, tz)
            .with_context(|| format!("--until-map {}: course `{}`", path.display(), row.course))?;
        epochs.push(r.epoch);
    }
    if let Some(path) = &a.until_map {
        writeln!(
            err,
            "until-map: {} rows from {}",
            map.rows.len(),
            path.display()
        )?;
    }
    if default_until.is_none() && map.rows.is_empty() {
        bail!("batch needs --until DATE or --until-map FILE.csv");
    }
    let now = time::now_epoch();
    for epoch in default_until.iter().chain(&epochs) {
        if *epoch <= now {
            writeln!(
                err,
                "warning: end date {} is in the past: stamped users will have no access after restore",
                time::format_iso(*epoch, tz)
            )?;
        }
    }
    let shard = a
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--shard {e}"))?;
    // The options that shape an output, as its resume record holds them: the end date this course gets, and
    // every option that changes the output's bytes or whether it is kept.
    let options_for = |shortname: Option<&str>, idnumber: Option<&str>, relative: &str| {
        let until = map
            .position(shortname, idnumber, relative)
            .map(|i| epochs[i])
            .or(default_until)?;
        Some(serde_json::json!({
            "from": from,
            "stamp_roles": stamp_roles,
            "until": until,
            "level": a.level.level,
            "require_change": a.require_change,
            "verify": a.verify,
        }))
    };
    let covered = |job: &Job, r: &batch::Record| {
        options_for(r.shortname.as_deref(), r.idnumber.as_deref(), &job.relative)
    };
    let discovery = batch::discover(
        &a.inputs,
        &a.output,
        shard,
        a.resume
            .then_some(&covered as &dyn Fn(&Job, &batch::Record) -> _),
    )?;
    if !a.dry_run {
        std::fs::create_dir_all(&a.output)
            .with_context(|| format!("cannot create output folder `{}`", a.output.display()))?;
    }
    let jobs = a
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    writeln!(
        err,
        "{} to convert with {jobs} jobs{}; {} skipped, {} unreadable",
        super::render::count(discovery.jobs.len(), "archive", "archives"),
        shard
            .map(|s| format!(" (shard {}/{})", s.k, s.n))
            .unwrap_or_default(),
        super::render::count(discovery.skipped.len(), "file", "files"),
        discovery.unreadable.len()
    )?;

    let mut write = super::write_options(a.level.level, super::interruptible(), globals);
    // Archives already run in parallel: share the cores between them rather than oversubscribe.
    write.threads = (write.threads / jobs).max(1);
    let cancel = write.cancel.clone();
    let settings = Settings {
        require_change: a.require_change,
        ..super::job_settings(write, a.verify.then_some(Verify::RemoveFailed), None)
    };

    let total = discovery.jobs.len();
    let bytes: u64 = discovery.jobs.iter().map(|j| j.bytes).sum();
    let terminal = std::io::stderr().is_terminal() && !globals.quiet;
    let bar = terminal.then(|| {
        let b = ProgressBar::new(bytes);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let lines = Mutex::new(());
    // The course of each archive read that far, for the report's row when the job fails after reading it.
    let courses: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());

    let until_of = |course: &mbz_enrol::job::Course, job: &Job| -> mbz_enrol::Result<i64> {
        if let Some(i) = map.position(
            course.shortname.as_deref(),
            course.idnumber.as_deref(),
            &job.relative,
        ) {
            return Ok(epochs[i]);
        }
        default_until.ok_or_else(|| {
            Error::Usage(format!(
                "no --until-map row matches course {} (idnumber {}, file {}) and no --until was given",
                course.shortname.as_deref().unwrap_or("?"),
                course.idnumber.as_deref().unwrap_or("none"),
                job.relative
            ))
        })
    };
    // Each archive's result is kept as a small report row, not the whole outcome (its per-user list): memory
    // stays bounded by the jobs running, not by the number of archives.
    let work = |job: &Job| -> mbz_enrol::Result<Row> {
        let out = (!a.dry_run).then_some(job.output.as_path());
        if out.is_some() {
            batch::resume::forget(&a.output, &job.relative);
        }
        let mut outcome = mbz_enrol::job::convert(&job.input, out, &settings, |course| {
            if let Some(name) = &course.shortname
                && let Ok(mut known) = courses.lock()
            {
                known.insert(job.relative.clone(), name.clone());
            }
            Ok(ConvertOptions {
                from: from.clone(),
                stamp_roles: stamp_roles.clone(),
                until: until_of(course, job)?,
                target: a.target.target.resolve(),
                live: None,
                welcome_off: false,
            })
        })?;
        super::render::hint_flags(&mut outcome.report.warnings);
        let course = &outcome.course;
        let mut record_failed = None;
        if out.is_some()
            && let Some(options) = options_for(
                course.shortname.as_deref(),
                course.idnumber.as_deref(),
                &job.relative,
            )
            && let Err(e) = batch::Record::new(
                &job.input,
                course.shortname.as_deref(),
                course.idnumber.as_deref(),
                options,
            )
            .and_then(|r| r.write(&a.output, &job.relative))
        {
            // Without its record the output is only made again by the next --resume: a warning, not a failure.
            record_failed = Some(format!(
                "resume record not written ({e}): --resume will convert this archive again"
            ));
        }
        let mut row = Row::converted(&job.relative, &outcome, tz);
        if let Some(w) = record_failed {
            if !row.warnings.is_empty() {
                row.warnings.push_str("; ");
            }
            row.warnings.push_str(&w);
        }
        Ok(row)
    };
    let finished = |job: &Job, result: &mbz_enrol::Result<Row>, took: std::time::Duration| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if result.is_err() {
            failed.fetch_add(1, Ordering::SeqCst);
        }
        let line = match result {
            Ok(r) if r.status == "unchanged" => format!("nothing to convert  {}", job.relative),
            Ok(r) => format!(
                "ok  {} ({}): {} converted, {} ending {}, {} suspended",
                job.relative,
                r.course,
                super::render::count(r.users_converted, "user", "users"),
                r.stamped,
                r.access_through_words,
                r.suspended
            ),
            Err(Error::Cancelled) => format!("cancelled  {}", job.relative),
            Err(e) => match courses
                .lock()
                .ok()
                .and_then(|c| c.get(&job.relative).cloned())
            {
                Some(course) => format!("FAILED  {} ({course}): {}", job.relative, chain(e)),
                None => format!("FAILED  {}: {}", job.relative, chain(e)),
            },
        };
        match &bar {
            Some(b) => {
                b.inc(job.bytes);
                b.set_message(format!(
                    "{n}/{total} archives, {} failed",
                    failed.load(Ordering::SeqCst)
                ));
                if result.is_err() {
                    b.println(line);
                }
            }
            None if globals.quiet => {}
            None => {
                // One write per line (stderr is unbuffered: a formatted write writes each piece).
                let text = format!("[{n}/{total}] {line} ({:.2}s)\n", took.as_secs_f64());
                let _guard = lines.lock();
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    };
    let results = batch::run(&discovery.jobs, jobs, !a.dry_run, &cancel, work, finished);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }

    let courses = courses.into_inner().unwrap_or_default();
    let mut rows: Vec<Row> = Vec::new();
    for (job, (result, took)) in discovery.jobs.iter().zip(&results) {
        let mut row = Row {
            path: job.relative.clone(),
            course: courses.get(&job.relative).cloned().unwrap_or_default(),
            seconds: took.as_secs_f64(),
            ..Row::default()
        };
        match result {
            Ok(r) => {
                row = Row {
                    seconds: took.as_secs_f64(),
                    ..r.clone()
                };
            }
            Err(Error::Cancelled) => {
                row.status = "cancelled".into();
                row.error = "interrupted before it finished; no output was left".into();
            }
            Err(e) => {
                row.status = "failed".into();
                row.error = chain(e);
            }
        }
        rows.push(row);
    }
    for s in &discovery.skipped {
        rows.push(Row {
            path: s.relative.clone(),
            // A file not named *.mbz is not an archive: listed, not counted.
            status: if s.reason == batch::Reason::NotMbz {
                "ignored"
            } else {
                "skipped"
            }
            .into(),
            error: skip_reason(&s.reason),
            ..Row::default()
        });
    }
    for s in &discovery.unreadable {
        writeln!(err, "FAILED  {}: {}", s.relative, skip_reason(&s.reason))?;
        rows.push(Row {
            path: s.relative.clone(),
            status: "failed".into(),
            error: skip_reason(&s.reason),
            ..Row::default()
        });
    }
    let totals = report::totals(&rows);
    writeln!(
        err,
        "done: {} converted, {} with nothing to convert, {} failed, {} skipped{}; {} users converted, {} given the end date, {} suspended",
        totals.converted,
        totals.unchanged,
        totals.failed,
        totals.skipped,
        if totals.cancelled > 0 {
            format!(", {} cancelled", totals.cancelled)
        } else {
            String::new()
        },
        totals.users_converted,
        totals.stamped,
        totals.suspended
    )?;
    if let Some(path) = &a.report {
        let run = report::Run {
            started,
            finished: time::now_epoch(),
            tz,
            version: format!("mbz-enrol {}", super::args::VERSION),
            inputs: a.inputs.iter().map(|p| p.display().to_string()).collect(),
            output: a.output.display().to_string(),
            options: given,
        };
        write_report(path, &rows, &run)?;
        writeln!(err, "report: {}", path.display())?;
    }
    Ok(if cancel.is_set() {
        ExitCode::from(130)
    } else if totals.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The report format from the file name, checked before any work starts.
pub(super) fn report_kind(path: &Path) -> Result<&'static str> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "csv" => "csv",
        "json" => "json",
        "html" | "htm" => "html",
        _ => bail!(
            "--report {}: use a .csv, .json or .html file name",
            path.display()
        ),
    })
}

/// The options given that shape the outputs, as an admin types them, for the report's record of the run: the
/// zone and the folders are recorded apart; `--jobs` and the reading limits depend on the host and change no
/// output, so they are left out.
fn options_given(a: &BatchArgs, from: &[String], stamp_roles: &[String]) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(until) = &a.conversion.until {
        v.push(format!("--until {until}"));
    }
    if let Some(map) = &a.until_map {
        v.push(format!("--until-map {}", map.display()));
    }
    v.push(format!("--from {}", from.join(",")));
    v.push(format!("--stamp-roles {}", stamp_roles.join(",")));
    v.push(format!(
        "--target {}",
        match a.target.target {
            super::args::TargetValue::Live => "live",
            super::args::TargetValue::New => "new",
            super::args::TargetValue::Existing => "existing",
        }
    ));
    v.push(format!("--level {}", a.level.level));
    if let Some(shard) = &a.shard {
        v.push(format!("--shard {shard}"));
    }
    for (on, flag) in [
        (a.resume, "--resume"),
        (a.require_change, "--require-change"),
        (a.verify, "--verify"),
        (a.dry_run, "--dry-run"),
    ] {
        if on {
            v.push(flag.to_owned());
        }
    }
    v
}

fn write_report(path: &Path, rows: &[Row], run: &report::Run) -> Result<()> {
    let mut buf = Vec::new();
    match report_kind(path)? {
        "csv" => report::write_csv(rows, &mut buf)?,
        "json" => report::write_json(rows, run, &mut buf)?,
        _ => report::write_html(rows, run, "mbz-enrol batch report", &mut buf)?,
    }
    std::fs::write(path, buf)
        .with_context(|| format!("cannot write report `{}`", path.display()))?;
    Ok(())
}
