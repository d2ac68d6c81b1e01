//! `convert`: one archive, options resolved once, the job run, the summary rendered.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use mbz_enrol::ConvertOptions;
use mbz_enrol::job::{self, Context, Verify};
use mbz_enrol::time::{self, Precision};

use super::args::ConvertArgs;
use super::resolve::{self, clean_list};
use super::{Globals, render};

/// Runs `convert`.
pub fn run(a: ConvertArgs, globals: Globals) -> Result<ExitCode> {
    if a.input.is_dir() {
        bail!(
            "{} is a folder: convert takes one backup; for a whole folder use\n  mbz-enrol batch {} -o OUTDIR --until DATE",
            a.input.display(),
            a.input.display()
        );
    }
    if a.output.output.is_none() && !a.output.dry_run {
        bail!("convert needs -o OUT (or --dry-run to write nothing)");
    }
    if let Some(out) = &a.output.output
        && !a.output.dry_run
    {
        // The input itself is the more useful thing to say.
        mbz_enrol::archive::output::check(&a.input, out)?;
        super::refuse_existing(out, a.output.force)?;
    }
    let from = resolve::sources(a.conversion.from, true)?;
    let stamp_roles = clean_list(a.conversion.stamp_roles);
    let mut err = globals.err();
    let (tz, source) = resolve::zone(a.conversion.zone.timezone.as_deref(), &mut err)?;
    // Required by clap.
    let until_text = a.conversion.until.as_deref().unwrap_or_default();
    let until = resolve::date("--until", until_text, tz, true)?;
    let now = time::now_epoch();
    let what = match until.precision {
        Precision::Day => format!(" ({until_text} included)"),
        Precision::Instant => String::new(),
    };
    writeln!(
        err,
        "until: access through {}{what} ({tz}, zone from {source})",
        render::last_second(until.epoch, tz),
    )?;
    for w in &until.warnings {
        writeln!(err, "warning: {w}")?;
    }
    if until.epoch <= now {
        writeln!(
            err,
            "warning: --until {} is in the past: stamped users will have no access after restore",
            until_text
        )?;
    }
    let live = match &a.into {
        Some(p) => {
            let (course, live) = job::live_course(p, &globals.limits)?;
            writeln!(
                err,
                "live course: {} (from {}): {} manual enrolments a merge meets",
                course.shortname.as_deref().unwrap_or("?"),
                p.display(),
                live.enrolments.len()
            )?;
            Some((course, live))
        }
        None => None,
    };
    let into = a.into.clone();
    let mut opts = ConvertOptions {
        from,
        stamp_roles,
        until: until.epoch,
        target: a.target.target.resolve(),
        live: None,
        welcome_off: a.welcome_off,
    };
    let output = if a.output.dry_run {
        None
    } else {
        a.output.output.as_deref()
    };
    let settings = job::Settings {
        // `-v` lists users by username: users.xml is read in the same pass.
        usernames: globals.verbose,
        ..super::job_settings(
            super::write_options(a.output.level.level, super::interruptible(), globals),
            a.output.verify.then_some(Verify::Report),
            Some(Context {
                timezone: tz.name().into(),
                dry_run: a.output.dry_run,
                until_iso: Some(time::format_iso(until.epoch, tz)),
                now: None,
            }),
        )
    };
    let progress = super::progress::watch(
        &[a.input.as_path()]
            .into_iter()
            .chain(output)
            .collect::<Vec<_>>(),
        globals,
    );
    let mut outcome = job::convert(&a.input, output, &settings, |course| {
        if let Some((target, live)) = live {
            // The same course on the same site: the ids match (or, failing ids, the shortnames).
            let same = match (course.id, target.id) {
                (Some(x), Some(y)) => x == y,
                _ => course.shortname == target.shortname,
            };
            if !same {
                return Err(mbz_enrol::Error::Usage(format!(
                    "--into {}: its course ({} id {}) is not the archive's ({} id {}): a merge meets the live \
                     course the backup came from",
                    into.as_deref()
                        .unwrap_or(std::path::Path::new("?"))
                        .display(),
                    target.shortname.as_deref().unwrap_or("?"),
                    target.id.map_or("?".into(), |i| i.to_string()),
                    course.shortname.as_deref().unwrap_or("?"),
                    course.id.map_or("?".into(), |i| i.to_string()),
                )));
            }
            opts.live = Some(live);
        }
        Ok(opts)
    })?;
    drop(progress);
    render::hint_flags(&mut outcome.report.warnings);
    render::convert_summary(&mut err, &outcome, tz)?;
    if globals.verbose {
        render::convert_users(&mut err, &outcome, tz)?;
    }
    let code = render::verify_result(&mut err, outcome.verification.as_ref(), output, tz)?;
    if a.output.json {
        render::json(&outcome)?;
    }
    Ok(code)
}
