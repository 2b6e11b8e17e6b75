//! `--generate`: the manual pages render cleanly and hold every option `--help` lists, and the
//! shells' completions complete.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::peer;

const CLIENT: &str = env!("CARGO_BIN_EXE_soc_client");
const SERVER: &str = env!("CARGO_BIN_EXE_soc_server");

fn output_of(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Every `--long` option a help text names.
fn long_options(help: &str) -> BTreeSet<String> {
    help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(str::to_string)
        .collect()
}

/// The options of `program --help` and of each subcommand's `--help`.
fn every_option(program: &str, subcommands: &[&str]) -> BTreeSet<String> {
    let mut options = long_options(&output_of(program, &["--help"]));
    for sub in subcommands {
        options.extend(long_options(&output_of(program, &[sub, "--help"])));
    }
    options
}

fn manual_lists_every_option(program: &str, subcommands: &[&str]) {
    let page = output_of(program, &["--generate", "man"]);
    // roff writes a hyphen in an option as `\-`.
    let text = page.replace("\\-", "-");
    let missing: Vec<_> = every_option(program, subcommands)
        .into_iter()
        .filter(|option| !text.contains(option.as_str()))
        .collect();
    assert!(missing.is_empty(), "{program}'s manual lacks {missing:?}");
    for sub in subcommands {
        let title = format!(".SH \"{} {}\"", program_name(program), sub).to_uppercase();
        assert!(page.contains(&title), "no section {title}");
    }
    if let Some(groff) = peer("groff", "groff-base") {
        let checked = crate::common::fed(&groff, &["-man", "-ww", "-z"], &page);
        let warnings = String::from_utf8_lossy(&checked.stderr);
        assert!(
            checked.status.success() && warnings.is_empty(),
            "{warnings}"
        );
    }
}

fn program_name(path: &str) -> &str {
    let name = std::path::Path::new(path).file_stem().unwrap();
    name.to_str().unwrap()
}

fn client_subcommands() -> Vec<String> {
    soc::cli::client::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect()
}

#[test]
fn the_manual_pages_render_cleanly_and_list_every_option() {
    let subs = client_subcommands();
    assert!(subs.len() >= 4, "{subs:?}");
    let subs: Vec<&str> = subs.iter().map(String::as_str).collect();
    manual_lists_every_option(CLIENT, &subs);
    manual_lists_every_option(SERVER, &[]);
}

#[test]
fn bash_completes_a_subcommand_and_its_options() {
    let script = output_of(CLIENT, &["--generate", "complete-bash"]);
    let Some(bash) = peer("bash", "bash") else {
        return;
    };
    let complete = |words: &str| {
        let words: Vec<&str> = words.split(' ').collect();
        let call = format!(
            "{script}\nCOMP_WORDS=({}); COMP_CWORD={}; _soc_client soc_client {} {}; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words.join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len().saturating_sub(2)],
        );
        let output = Command::new(&bash).args(["-c", &call]).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(complete("soc_client pi"), "ping\n");
    let options = complete("soc_client ping --co");
    assert!(options.lines().any(|line| line == "--count"), "{options}");
    assert!(options.lines().any(|line| line == "--connect"), "{options}");
}

#[test]
fn every_shell_gets_completions_of_the_subcommands() {
    for shell in ["complete-zsh", "complete-fish", "complete-powershell"] {
        let script = output_of(CLIENT, &["--generate", shell]);
        for word in ["ping", "bench", "monitor", "merge", "connect-timeout"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let server = output_of(SERVER, &["--generate", "complete-bash"]);
    assert!(server.contains("--udp-rate-per-source"), "{server}");
}

#[test]
fn an_unknown_kind_to_generate_is_a_usage_error() {
    for program in [CLIENT, SERVER] {
        let output = Command::new(program)
            .args(["--generate", "roff"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("complete-bash"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}
