//! `renew`: the participants page's bulk edit, offline, on one archive or (as a batch) on several.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use mbz_enrol::enrol::renew::{Options, Status};
use mbz_enrol::job::{self, Context, Verify};
use mbz_enrol::time;

use super::args::{RenewArgs, SetStatusArg, StatusArg};
use super::{Globals, render, resolve};

/// Runs `renew`.
pub fn run(a: RenewArgs, globals: Globals) -> Result<ExitCode> {
    if a.output.output.is_none() && !a.output.dry_run {
        bail!("renew needs -o OUT (or --dry-run to write nothing)");
    }
    if a.set_status.is_none() && a.start.is_none() && a.until.is_none() {
        bail!("renew needs at least one action: --set-status, --start or --until");
    }
    let mut err = globals.err();
    let (tz, source) = resolve::zone(a.zone.timezone.as_deref(), &mut err)?;
    writeln!(err, "time zone: {tz} (from {source})")?;
    let now = match &a.now {
        Some(s) => {
            let r = resolve::date("--now", s, tz, false)?;
            resolve::announce(&mut err, "now", s, &r, tz)?;
            r.epoch
        }
        None => time::now_epoch(),
    };
    let start = match &a.start {
        Some(s) => {
            let r = resolve::date("--start", s, tz, false)?;
            resolve::announce(&mut err, "start", s, &r, tz)?;
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
            let r = resolve::date("--until", s, tz, true)?;
            resolve::announce(&mut err, "until", s, &r, tz)?;
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
    let methods = resolve::clean_list(a.method.clone());
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
        roles: resolve::clean_list(a.role.clone()),
        statuses,
        groups: a.group.clone(),
        users: resolve::clean_list(a.user.clone()),
        now,
        set_status: a.set_status.map(|s| match s {
            SetStatusArg::Active => 0,
            SetStatusArg::Suspended => 1,
        }),
        start,
        until,
        target: a.target.target.resolve(),
    };
    let write = super::write_options(a.output.level.level, super::interruptible(), globals);
    let single = a.inputs.len() == 1 && a.inputs[0].is_file();
    if !single {
        // Workers print to stderr: release this thread's lock on it first.
        drop(err);
        return many(&a, &opts, write, tz, now, globals);
    }
    let input = a.inputs[0].clone();
    let output = if a.output.dry_run {
        None
    } else {
        a.output.output.as_deref()
    };
    if let Some(out) = output {
        mbz_enrol::archive::output::check(&input, out)?;
        super::refuse_existing(out, a.output.force)?;
    }
    let settings = super::job_settings(
        write,
        a.output.verify.then_some(Verify::Report),
        Some(Context {
            timezone: tz.name().into(),
            dry_run: a.output.dry_run,
            until_iso: None,
            now: Some(now),
        }),
    );
    let progress = super::progress::watch(
        &[input.as_path()]
            .into_iter()
            .chain(output)
            .collect::<Vec<_>>(),
        globals,
    );
    let mut outcome = job::renew(&input, output, &settings, &opts)?;
    drop(progress);
    render::hint_flags(&mut outcome.report.warnings);
    render::renew_summary(&mut err, &outcome, tz)?;
    let code = render::verify_result(&mut err, outcome.verification.as_ref(), output, tz)?;
    if a.output.json {
        render::json(&outcome)?;
    }
    Ok(code)
}

/// `renew` over several archives or folders: the batch driver (mirrored paths, isolation, exit 1 on failures).
fn many(
    a: &RenewArgs,
    opts: &Options,
    write: mbz_enrol::archive::WriteOptions,
    tz: chrono_tz::Tz,
    now: i64,
    globals: Globals,
) -> Result<ExitCode> {
    let outdir = match (&a.output.output, a.output.dry_run) {
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
    let discovery = mbz_enrol::batch::discover(&a.inputs, &outdir, None, None)?;
    let mut err = globals.err();
    for s in &discovery.skipped {
        writeln!(
            err,
            "skipped {}: {}",
            s.relative,
            super::skip_reason(&s.reason)
        )?;
    }
    let settings =
        super::job_settings(write, a.output.verify.then_some(Verify::RemoveFailed), None);
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let lines = std::sync::Mutex::new(());
    let results = mbz_enrol::batch::run(
        &discovery.jobs,
        jobs,
        !a.output.dry_run,
        &settings.write.cancel,
        |job| {
            let out = (!a.output.dry_run).then_some(job.output.as_path());
            job::renew(&job.input, out, &settings, opts).map(|mut o| {
                render::hint_flags(&mut o.report.warnings);
                o
            })
        },
        |job, result, _| {
            if globals.quiet {
                return;
            }
            let _guard = lines.lock();
            match result {
                Ok(o) => super::to_stderr(&format!(
                    "ok  {}: {} matched, {} changed{}",
                    job.relative,
                    o.report.matched.len(),
                    o.report.changed,
                    if o.report.warnings.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} warnings)", o.report.warnings.len())
                    }
                )),
                Err(e) => super::to_stderr(&format!("FAILED  {}: {}", job.relative, failure(e))),
            }
        },
    );
    let failed = results.iter().filter(|(r, _)| r.is_err()).count()
        + super::failed_unreadable(&mut err, &discovery.unreadable, "FAILED ")?;
    writeln!(
        err,
        "done: {} renewed, {failed} failed, {} skipped",
        results.len() - results.iter().filter(|(r, _)| r.is_err()).count(),
        discovery.skipped.len()
    )?;
    if a.output.json {
        // Each outcome written as it is serialised (not first built as a serde_json tree, all of them at once);
        // the keys in serde_json's map order, at every depth, as the reports always had them.
        #[derive(serde::Serialize)]
        #[serde(untagged)]
        enum Archive<'a> {
            Done(&'a job::RenewOutcome),
            Failed(serde_json::Value),
        }
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            archives: Vec<Archive<'a>>,
            dry_run: bool,
            now: i64,
            timezone: &'a str,
        }
        let archives = discovery
            .jobs
            .iter()
            .zip(&results)
            .map(|(job, (r, _))| match r {
                Ok(o) => Archive::Done(o),
                Err(e) => Archive::Failed(
                    serde_json::json!({"archive": job.input.display().to_string(), "error": failure(e)}),
                ),
            })
            // The inputs that could not be read, failed as the terminal and the exit code count them.
            .chain(discovery.unreadable.iter().map(|s| {
                Archive::Failed(serde_json::json!({
                    "archive": s.path.display().to_string(),
                    "error": s.reason.to_string(),
                }))
            }))
            .collect();
        render::json(&Doc {
            archives,
            dry_run: a.output.dry_run,
            now,
            timezone: tz.name(),
        })?;
    }
    Ok(if settings.write.cancel.is_set() {
        ExitCode::from(130)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A failed archive of a multi-archive renew, as renew words it (a failed verification lists the checks' names).
fn failure(e: &mbz_enrol::Error) -> String {
    match e {
        mbz_enrol::Error::VerifyFailed { path, failed } => format!(
            "output `{}` failed verification: {}",
            path.display(),
            failed
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        e => super::hint::link(e),
    }
}
