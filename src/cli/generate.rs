//! `--generate`: each binary's manual page and shell completions, made from the same clap
//! definitions its `--help` is made from, so that they cannot drift apart.

use std::io::{self, Write};

use clap::ValueEnum;

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The manual page, in roff: save it as NAME.1 in a man1 directory, or read it with man -l
    Man,
    /// Bash completions: save them in ~/.local/share/bash-completion/completions/NAME
    CompleteBash,
    /// Zsh completions: save them as _NAME in a directory of $fpath
    CompleteZsh,
    /// Fish completions: save them in ~/.config/fish/completions/NAME.fish
    CompleteFish,
    /// PowerShell completions: dot-source them from $PROFILE
    CompletePowershell,
}

/// Writes what `kind` asks for `command` (a binary's full command line) to `out`.
pub fn generate(kind: Generate, mut command: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    use clap_complete::Shell;
    let shell = match kind {
        Generate::Man => return manual(command, out),
        Generate::CompleteBash => Shell::Bash,
        Generate::CompleteZsh => Shell::Zsh,
        Generate::CompleteFish => Shell::Fish,
        Generate::CompletePowershell => Shell::PowerShell,
    };
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name, out);
    Ok(())
}

/// The manual page: the command's own sections, then each subcommand's description and options
/// under its name, so that every option any `--help` lists is in it.
fn manual(command: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let name = command.get_name().to_string();
    let mut command = command;
    command.build();
    clap_mangen::Man::new(command.clone()).render(out)?;
    for sub in command
        .get_subcommands()
        .filter(|sub| sub.get_name() != "help")
    {
        let title = format!("{} {}", name, sub.get_name()).to_uppercase();
        let page = clap_mangen::Man::new(sub.clone());
        let mut section = Vec::new();
        page.render_description_section(&mut section)?;
        page.render_options_section(&mut section)?;
        let section = String::from_utf8_lossy(&section)
            .replacen(".SH DESCRIPTION", &format!(".SH \"{title}\""), 1)
            .replacen(".SH OPTIONS", ".SS Options", 1);
        out.write_all(section.as_bytes())?;
    }
    Ok(())
}
