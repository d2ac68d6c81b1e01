//! `verify`: restorability and, with `--against`, the change proof.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use mbz_enrol::time;

use super::args::VerifyArgs;
use super::{Globals, render, resolve};

/// Runs `verify`.
pub fn run(a: VerifyArgs, globals: Globals) -> Result<ExitCode> {
    // Dates are only displayed here: an unusable $TZ falls back to UTC instead of failing the proof.
    let tz = match time::resolve_zone(a.zone.timezone.as_deref()) {
        Ok((tz, source)) => {
            if let Some(w) = resolve::zone_warning(tz, source) {
                writeln!(globals.err(), "warning: {w} (dates are only displayed)")?;
            }
            tz
        }
        Err(e) if a.zone.timezone.is_none() => {
            super::to_stderr(&format!(
                "warning: {}; showing dates in UTC",
                resolve::zone_error(e)
            ));
            chrono_tz::UTC
        }
        Err(e) => return Err(resolve::zone_error(e)),
    };
    let progress = super::progress::watch(
        &[a.archive.as_path()]
            .into_iter()
            .chain(a.against.as_deref())
            .collect::<Vec<_>>(),
        globals,
    );
    let v =
        mbz_enrol::verify::verify_file_limited(&a.archive, a.against.as_deref(), &globals.limits)?;
    drop(progress);
    if a.json {
        render::json(&v)?;
    } else {
        let mut out = render::stdout();
        render::verification(&mut out, &v, tz, true)?;
        out.flush()?;
    }
    Ok(if v.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
