//! `completions SHELL` and `man`: generated from the command-line definition itself
//! (clap_complete, clap_mangen), so they never fall behind the commands.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::failure::Failure;

/// The completion script for `shell` on stdout. Where to put it:
/// bash `/usr/share/bash-completion/completions/geniusctl`, zsh a `_geniusctl` file in
/// `$fpath`, fish `~/.config/fish/completions/geniusctl.fish`, PowerShell `. (geniusctl
/// completions powershell | Out-String)` in `$PROFILE`.
pub fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut command = Cli::command();
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut command, "geniusctl", &mut bytes);
    write_stdout(&bytes)
}

/// The man page (roff, section 1) on stdout: `geniusctl man > geniusctl.1`.
pub fn man() -> Result<(), Failure> {
    let command = Cli::command();
    let mut bytes = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut bytes)
        .map_err(|e| Failure::Network(format!("could not render the man page: {e}")))?;
    write_stdout(&bytes)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
