//! The binary's side: arguments, one file per command, the resolve step, rendering to the terminal, exit
//! codes. No rules live here.

mod apply;
pub mod args;
mod batch;
mod convert;
pub(crate) mod hint;
mod inspect;
mod plan;
mod progress;
pub mod render;
mod renew;
mod resolve;
mod shell;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};

use args::{Cli, Command};

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

/// Writes `line` and a newline to stderr in one call, whatever happens to it: `eprintln!` panics when stderr
/// cannot be written (`2>/dev/full`), and no message is worth a panic.
pub fn to_stderr(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

impl Globals {
    /// Where summaries go: stderr a line at a time, or nowhere with --quiet. Stderr itself is unbuffered, and
    /// the renderers write a line in pieces: `convert -v` of a 30,000-user course was 1.6 million write calls.
    pub fn err(self) -> Box<dyn Write> {
        if self.quiet {
            Box::new(std::io::sink())
        } else {
            Box::new(std::io::LineWriter::new(std::io::stderr()))
        }
    }
}

/// Runs the parsed command; the exit code on success.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let v = Globals {
        quiet: cli.quiet,
        verbose: cli.verbose,
        limits: mbz_enrol::archive::Limits {
            max_xml: cli.limits.max_xml_mib.saturating_mul(1 << 20),
            max_total: cli.limits.max_total_gib.saturating_mul(1 << 30),
            raise: Some(hint::raise),
        },
    };
    match cli.command {
        Command::Convert(a) => convert::run(a, v),
        Command::Batch(a) => batch::run(a, v),
        Command::Plan(a) => plan::run(a, v),
        Command::Apply(a) => apply::run(a, v),
        Command::Renew(a) => renew::run(a, v),
        Command::Inspect(a) => inspect::run(a, v),
        Command::Verify(a) => verify::run(a, v),
        Command::Completions { shell } => {
            shell::completions(shell, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage { dir: None } => {
            shell::manpage(&mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage { dir: Some(dir) } => {
            let pages = shell::manpages(&dir)?;
            if !v.quiet {
                to_stderr(&format!(
                    "{} man pages written to {}",
                    pages.len(),
                    dir.display()
                ));
            }
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

/// A job's settings: `write`, verified per `verify` when the command was asked to, recorded with `context`.
pub(crate) fn job_settings(
    write: mbz_enrol::archive::WriteOptions,
    verify: Option<mbz_enrol::job::Verify>,
    context: Option<mbz_enrol::job::Context>,
) -> mbz_enrol::job::Settings {
    mbz_enrol::job::Settings {
        write,
        require_change: false,
        verify: verify.unwrap_or_default(),
        context,
        usernames: false,
    }
}

/// The backups among `inputs` (files and folders), the files skipped listed on `err`; an error when none, naming
/// the files named `*.mbz` that are no archive (which the caller otherwise counts as failed).
pub(crate) fn find_backups(
    inputs: &[std::path::PathBuf],
    err: &mut dyn Write,
) -> Result<mbz_enrol::batch::Discovery> {
    let found = mbz_enrol::batch::find(inputs)?;
    for s in &found.skipped {
        writeln!(
            err,
            "skipped {}: {}",
            s.path.display(),
            skip_reason(&s.reason)
        )?;
    }
    if found.jobs.is_empty() {
        let unreadable: Vec<String> = found
            .unreadable
            .iter()
            .map(|s| s.reason.to_string())
            .collect();
        if unreadable.is_empty() {
            bail!("no backup found in the given archives or folders");
        }
        bail!("no backup could be read: {}", unreadable.join("; "));
    }
    Ok(found)
}

/// Lists the inputs that could not be read (a `*.mbz` that is no archive, an unreadable file or folder) as
/// failures, each line `label name: why`; returns how many (the commands count them as failed archives).
pub(crate) fn failed_unreadable(
    err: &mut dyn Write,
    unreadable: &[mbz_enrol::batch::Skipped],
    label: &str,
) -> std::io::Result<usize> {
    for s in unreadable {
        writeln!(err, "{label} {}: {}", s.relative, s.reason)?;
    }
    Ok(unreadable.len())
}

/// Why a file was skipped, flags named.
pub(crate) fn skip_reason(r: &mbz_enrol::batch::Reason) -> String {
    match r {
        mbz_enrol::batch::Reason::UpToDate => format!("{r} (--resume)"),
        _ => r.to_string(),
    }
}
