//! Shell integration: completion scripts and man pages, generated from the same clap definitions as `--help`.
//!
//! clap_complete's bash script for a hyphenated program name (4.6.11 and later releases so far) names its
//! per-command branches with the hyphen turned into `__subcmd__` (`mbz__subcmd__enrol__subcmd__convert`) while
//! the word walk sets `mbz__enrol__subcmd__convert`: nothing past the command ever completes (clap-rs/clap#6421).
//! [`completions`] renames the branches to what the walk sets; once a clap_complete release fixes it, the rename
//! finds nothing to rename, and the completion test still holds.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::args::Cli;

/// The program's name, as installed.
const BIN: &str = "mbz-enrol";

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut script);
    if shell == clap_complete::Shell::Bash {
        let text = String::from_utf8(script).context("bash completion script is not UTF-8")?;
        script = fix_bash_branches(&text).into_bytes();
    }
    out.write_all(&script)?;
    Ok(())
}

/// The bash script with its per-command branch labels named as its word walk names the commands.
fn fix_bash_branches(script: &str) -> String {
    let walk = BIN.replace('-', "__");
    let label = BIN.replace('-', "__subcmd__");
    if walk == label {
        return script.to_owned();
    }
    script.replace(&format!("{label}__subcmd__"), &format!("{walk}__subcmd__"))
}

/// The command the man pages describe: no `help` command (`--help` is on every page).
fn man_command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Writes the top man page (`mbz-enrol(1)`) to `out`.
pub fn manpage(out: &mut dyn Write) -> Result<()> {
    clap_mangen::Man::new(man_command()).render(out)?;
    Ok(())
}

/// Writes `mbz-enrol.1` and one `mbz-enrol-COMMAND.1` per command into `dir`; the paths written.
pub fn manpages(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let top = man_command();
    let mut written = Vec::new();
    for page in std::iter::once(&top).chain(top.get_subcommands().filter(|s| !s.is_hide_set())) {
        let man = clap_mangen::Man::new(page.clone());
        let path = dir.join(man.get_filename());
        let mut file = std::fs::File::create(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        man.render(&mut file)?;
        written.push(path);
    }
    Ok(written)
}
