//! Every document stays true: README.md, the Chinese guide README.zh-CN.md and docs/. The files,
//! functions and types they point to exist, the tests they name exist, the two guides open with
//! the two commands a newcomer needs and document every option `--help` shows, and the
//! architecture map points at the files where each part lives.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The two guides for users: both open with the two commands and document every option.
const GUIDES: [&str; 2] = ["README.md", "README.zh-CN.md"];

/// Every document, with the fewest code links and named tests it has (so that a table that
/// moves away is noticed).
const DOCUMENTS: [(&str, usize, usize); 6] = [
    ("README.md", 0, 0),
    ("README.zh-CN.md", 16, 15),
    ("docs/architecture.md", 20, 0),
    ("docs/learning.md", 16, 15),
    ("docs/testing.md", 0, 3),
    ("docs/performance.md", 0, 1),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Where a link in `document` to `target` points, from the document's own folder.
fn resolve(document: &str, target: &str) -> PathBuf {
    root().join(document).parent().unwrap().join(target)
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
    for (document, _, _) in DOCUMENTS {
        let text = read(document);
        let mut checked = 0;
        for piece in text.split("](").skip(1) {
            let Some((target, _)) = piece.split_once(')') else {
                continue;
            };
            if target.contains("://") || target.starts_with('#') {
                continue;
            }
            let path = resolve(document, target.split('#').next().unwrap());
            assert!(
                path.exists(),
                "{document} links to {target}, which does not exist"
            );
            checked += 1;
        }
        assert!(checked >= 2, "{document}: only {checked} links found");
    }
}

#[test]
fn every_code_link_names_a_function_or_type_in_that_file() {
    for (document, fewest, _) in DOCUMENTS {
        let checked = every_code_link_in(document);
        assert!(
            checked >= fewest,
            "{document}: only {checked} code links found: did the table move?"
        );
    }
}

/// Checks links of the form [`module::function`](src/file.rs) or [`Type`](../src/file.rs);
/// returns how many there were.
fn every_code_link_in(document: &str) -> usize {
    let text = read(document);
    let mut checked = 0;
    for piece in text.split("[`").skip(1) {
        let Some((name, rest)) = piece.split_once("`](") else {
            continue;
        };
        let Some((target, _)) = rest.split_once(')') else {
            continue;
        };
        let Ok(path) = resolve(document, target).canonicalize() else {
            panic!("{document} links `{name}` to {target}, which does not exist");
        };
        if !path.starts_with(root().join("src").canonicalize().unwrap()) || path.is_dir() {
            continue;
        }
        let item = name.rsplit("::").next().unwrap();
        let source = std::fs::read_to_string(&path).unwrap();
        let defined = ["fn", "struct", "enum", "type", "trait"]
            .iter()
            .any(|kind| {
                source.contains(&format!("{kind} {item}("))
                    || source.contains(&format!("{kind} {item} "))
                    || source.contains(&format!("{kind} {item}<"))
                    || source.contains(&format!("{kind} {item};"))
            });
        assert!(
            defined,
            "{document} links `{name}` to {target}, which defines no `{item}`"
        );
        checked += 1;
    }
    checked
}

#[test]
fn every_test_a_document_names_exists() {
    for (document, _, fewest) in DOCUMENTS {
        let checked = every_test_named_in(document);
        assert!(
            checked >= fewest,
            "{document}: only {checked} tests named: did the list move?"
        );
    }
}

/// Checks every `tests/FILE.rs::name` span; returns how many there were.
fn every_test_named_in(guide: &str) -> usize {
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
    checked
}

#[test]
fn the_architecture_map_points_at_where_each_part_lives() {
    let map = read("docs/architecture.md");
    for file in [
        "src/server/accept.rs",
        "src/server/client.rs",
        "src/server/thread_cache.rs",
        "src/client/pipe.rs",
        "src/measure/pingpong.rs",
        "src/sys/mod.rs",
    ] {
        assert!(
            map.contains(&format!("](../{file})")),
            "docs/architecture.md does not link {file}"
        );
        assert!(root().join(file).exists(), "{file} is gone");
    }
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
