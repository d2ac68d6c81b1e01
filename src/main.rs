//! The `mbz-enrol` binary: parse arguments, call the library, render, exit (0 ok, 2 error).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match cli::run(cli::args::Cli::parse()) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if matches!(e.downcast_ref(), Some(mbz_enrol::Error::Cancelled)) => {
            eprintln!("mbz-enrol: interrupted; nothing was written");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("mbz-enrol: error: {}", cli::hint::chain_any(&e));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
