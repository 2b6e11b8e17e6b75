//! README.md and the Chinese guide, README.zh-CN.md, stay true: the files and functions they
//! point to exist, the tests they name exist, they open with the two commands a newcomer needs,
//! and they document every option `--help` shows.

use std::path::Path;
use std::process::Command;

/// The guides these checks keep true.
const GUIDES: [&str; 2] = ["README.md", "README.zh-CN.md"];

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
    for guide in GUIDES {
        let readme = read(guide);
        let opening: String = readme.lines().take(15).collect::<Vec<_>>().join("\n");
        assert!(
            opening.contains("cargo run --release --bin soc_server"),
            "{guide}: {opening}"
        );
        assert!(opening.contains("cargo test"), "{guide}: {opening}");
    }
}

#[test]
fn readme_links_to_the_chinese_guide_from_its_first_lines() {
    let opening: String = read("README.md").lines().take(5).collect();
    assert!(opening.contains("](README.zh-CN.md)"), "{opening}");
}

#[test]
fn every_relative_link_points_to_a_file_that_exists() {
    for guide in GUIDES {
        let readme = read(guide);
        let mut checked = 0;
        for piece in readme.split("](").skip(1) {
            let Some((target, _)) = piece.split_once(')') else {
                continue;
            };
            if target.contains("://") || target.starts_with('#') {
                continue;
            }
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(target);
            assert!(
                path.exists(),
                "{guide} links to {target}, which does not exist"
            );
            checked += 1;
        }
        assert!(checked >= 10, "{guide}: only {checked} links found");
    }
}

#[test]
fn every_code_link_names_a_function_in_that_file() {
    for guide in GUIDES {
        every_code_link_in(guide);
    }
}

fn every_code_link_in(guide: &str) {
    let readme = read(guide);
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
            "{guide} links `{name}` to {path}, which has no `fn {function}`"
        );
        checked += 1;
    }
    assert!(
        checked >= 16,
        "{guide}: only {checked} code links found: did the table move?"
    );
}

#[test]
fn every_test_the_readme_names_exists() {
    for guide in GUIDES {
        every_test_named_in(guide);
    }
}

fn every_test_named_in(guide: &str) {
    let readme = read(guide);
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
            .unwrap_or_else(|| panic!("{guide} names {span}, which does not exist"));
        assert!(
            source[..at].trim_end().ends_with("#[test]"),
            "{guide} names {span}, which is not a #[test]"
        );
        checked += 1;
    }
    assert!(
        checked >= 15,
        "{guide}: only {checked} tests named: did the Traps section move?"
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
    let server = env!("CARGO_BIN_EXE_soc_server");
    let client = env!("CARGO_BIN_EXE_soc_client");
    let mut all = long_options(server, &[]);
    all.extend(long_options(client, &[]));
    all.extend(long_options(client, &["ping"]));
    all.extend(long_options(client, &["bench"]));
    assert!(all.len() >= 15, "{all:?}");
    for guide in GUIDES {
        let readme = read(guide);
        for option in &all {
            assert!(
                mentions(&readme, option),
                "{guide} does not document {option}"
            );
        }
    }
}
