//! README.md stays true: the files and functions it points to exist, the tests it names exist,
//! it opens with the two commands a newcomer needs, and it documents every option `--help` shows.

use std::path::Path;
use std::process::Command;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Every `` `...` `` span of `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn readme_opens_with_the_two_commands_a_newcomer_needs() {
    let readme = read("README.md");
    let opening: String = readme.lines().take(15).collect::<Vec<_>>().join("\n");
    assert!(
        opening.contains("cargo run --release --bin soc_server"),
        "{opening}"
    );
    assert!(opening.contains("cargo test"), "{opening}");
}

#[test]
fn every_code_link_names_a_function_in_that_file() {
    let readme = read("README.md");
    let mut checked = 0;
    // Links of the form [`module::function`](src/file.rs).
    for piece in readme.split("[`").skip(1) {
        let Some((name, rest)) = piece.split_once("`](") else {
            continue;
        };
        let Some((path, _)) = rest.split_once(')') else {
            continue;
        };
        if !path.starts_with("src/") {
            continue;
        }
        let function = name.rsplit("::").next().unwrap();
        let source = read(path);
        assert!(
            source.contains(&format!("fn {function}(")),
            "README links `{name}` to {path}, which has no `fn {function}`"
        );
        checked += 1;
    }
    assert!(
        checked >= 16,
        "only {checked} code links found: did the table move?"
    );
}

#[test]
fn every_test_the_readme_names_exists() {
    let readme = read("README.md");
    let mut checked = 0;
    for span in code_spans(&readme) {
        let Some((file, test)) = span.split_once("::") else {
            continue;
        };
        if !(file.starts_with("tests/") && file.ends_with(".rs")) {
            continue;
        }
        let source = read(file);
        let at = source
            .find(&format!("fn {test}()"))
            .unwrap_or_else(|| panic!("README names {span}, which does not exist"));
        assert!(
            source[..at].trim_end().ends_with("#[test]"),
            "README names {span}, which is not a #[test]"
        );
        checked += 1;
    }
    assert!(
        checked >= 15,
        "only {checked} tests named: did the Traps section move?"
    );
}

/// The long options `--help` lists for a binary (and subcommand).
fn long_options(binary: &str, args: &[&str]) -> Vec<String> {
    let output = Command::new(binary)
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    help.split_whitespace()
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(|word| {
            word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .split(['=', '<', '['])
                .next()
                .unwrap()
                .to_string()
        })
        .filter(|option| option != "--help" && option != "--version")
        .collect()
}

/// True if `option` appears in `text` as a whole word (`--timeout` does not count for `--time`).
fn mentions(text: &str, option: &str) -> bool {
    text.match_indices(option).any(|(at, _)| {
        let next = text[at + option.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[test]
fn readme_documents_every_option_of_both_binaries() {
    let readme = read("README.md");
    let server = env!("CARGO_BIN_EXE_soc_server");
    let client = env!("CARGO_BIN_EXE_soc_client");
    let mut all = long_options(server, &[]);
    all.extend(long_options(client, &[]));
    all.extend(long_options(client, &["ping"]));
    all.extend(long_options(client, &["bench"]));
    assert!(all.len() >= 15, "{all:?}");
    for option in all {
        assert!(
            mentions(&readme, &option),
            "README does not document {option}"
        );
    }
}
