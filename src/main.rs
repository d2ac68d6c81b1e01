//! The `mbz-enrol` binary: parse arguments, call the library, render, exit (0 ok, 2 error).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match cli::run(cli::args::Cli::parse()) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if matches!(e.downcast_ref(), Some(mbz_enrol::Error::Cancelled)) => {
            cli::to_stderr("mbz-enrol: interrupted; nothing was written");
            ExitCode::from(130)
        }
        Err(e) => {
            cli::to_stderr(&format!("mbz-enrol: error: {}", cli::hint::chain_any(&e)));
            ExitCode::from(2)
        }
    }
}

/// The reader of our output went away (`| head`): nothing more to say.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == broken
            // serde_json keeps the I/O error inside its own (whose `source` skips it).
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
}
