//! `inspect`: what a backup holds, as text or JSON.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use mbz_enrol::job::inspect_file_limited;

use super::args::InspectArgs;
use super::{Globals, render};

/// Runs `inspect`.
pub fn run(a: InspectArgs, globals: Globals) -> Result<ExitCode> {
    let inspection = inspect_file_limited(&a.input, &globals.limits)?;
    if a.json {
        render::json(&inspection)?;
    } else {
        let mut out = render::stdout();
        render::inspection(&mut out, &inspection)?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
