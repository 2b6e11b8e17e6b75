//! A first word that is nearly a subcommand (`pnig`, `benchmark`) is taken for a mistyped one, not
//! for a host name: clap's own "unrecognized subcommand" error, with its suggestion and the way
//! to say that the word really is a host.

use clap::CommandFactory;

use super::args::Args;

/// The subcommands, for telling a mistyped one from a host name.
pub(super) const SUBCOMMANDS: [&str; 4] = ["ping", "bench", "monitor", "merge"];

/// The first free word of the command line (where HOST or a subcommand goes), when it is not a
/// subcommand but looks like a mistyped one (`pnig`, `benchmark`): then it is one, not a host.
/// Options are stepped over with their values, which `command` knows.
pub(super) fn subcommand_typo(
    command: &clap::Command,
    words: &[String],
) -> Option<(String, &'static str)> {
    let takes_value = |matches: &dyn Fn(&clap::Arg) -> bool| {
        command
            .get_arguments()
            .any(|arg| matches(arg) && arg.get_action().takes_values())
    };
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" {
            return None;
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=') && takes_value(&|arg| arg.get_long() == Some(long)) {
                words.next();
            }
            continue;
        }
        let mut chars = word.chars();
        if chars.next() == Some('-') && word.len() > 1 {
            // `-p 8888` takes the next word; `-p8888` and `-vv` do not.
            let short = chars.next();
            if word.len() == 2 && takes_value(&|arg| arg.get_short() == short) {
                words.next();
            }
            continue;
        }
        let typed = word.to_ascii_lowercase();
        if SUBCOMMANDS.contains(&typed.as_str())
            || typed.contains(|c: char| c == '.' || c == ':' || c.is_ascii_digit())
        {
            return None;
        }
        return SUBCOMMANDS
            .into_iter()
            .find(|meant| {
                strsim::damerau_levenshtein(&typed, meant) <= 2 || typed.starts_with(meant)
            })
            .map(|meant| (word.clone(), meant));
    }
    None
}

/// clap's own error for an unknown subcommand, with its "did you mean", and the way to say that
/// the word really is a host.
pub(super) fn subcommand_typo_error(typed: &str, meant: &str) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut command = Args::command();
    let mut err = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(&command);
    err.insert(
        ContextKind::InvalidSubcommand,
        ContextValue::String(typed.to_string()),
    );
    err.insert(
        ContextKind::SuggestedSubcommand,
        ContextValue::String(meant.to_string()),
    );
    err.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![format!(
            "if '{typed}' is the server's host name, give it as --host {typed}"
        )
        .into()]),
    );
    err.insert(
        ContextKind::Usage,
        ContextValue::StyledStr(command.render_usage()),
    );
    err
}
