//! Every document stays true: README.md, the Chinese guide README.zh-CN.md and docs/. The files,
//! functions and types they point to exist, the tests they name exist, the two guides open with
//! the two commands a newcomer needs and document every option `--help` shows, and the
//! architecture map points at the files where each part lives.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The two guides for users: both open with the two commands.
const GUIDES: [&str; 2] = ["README.md", "README.zh-CN.md"];

/// Every document, with the fewest code links and named tests it has (so that a table that
/// moves away is noticed).
const DOCUMENTS: [(&str, usize, usize); 13] = [
    ("README.md", 0, 0),
    ("README.zh-CN.md", 16, 15),
    ("docs/architecture.md", 30, 0),
    ("docs/learning.md", 16, 15),
    ("docs/testing.md", 0, 3),
    ("docs/performance.md", 0, 1),
    ("docs/options.md", 0, 1),
    ("docs/measuring.md", 0, 0),
    ("docs/path.md", 0, 2),
    ("docs/monitoring.md", 0, 1),
    ("docs/service.md", 0, 0),
    ("docs/json.md", 0, 0),
    ("docs/wire.md", 0, 0),
];

/// The documents whose sample output (after a `$ soc_client ping`, `bench` or `soc_server`
/// line) must be what this build prints.
const SAMPLED: [&str; 5] = [
    "README.md",
    "README.zh-CN.md",
    "docs/learning.md",
    "docs/measuring.md",
    "docs/path.md",
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
fn every_option_is_in_docs_options() {
    let server = env!("CARGO_BIN_EXE_soc_server");
    let client = env!("CARGO_BIN_EXE_soc_client");
    let mut all = long_options(server, &[]);
    all.extend(long_options(client, &[]));
    for sub in ["ping", "bench", "monitor", "merge"] {
        all.extend(long_options(client, &[sub]));
    }
    assert!(all.len() >= 40, "{all:?}");
    let options = read("docs/options.md");
    for option in &all {
        assert!(
            mentions(&options, option),
            "docs/options.md does not document {option}"
        );
    }
    assert!(read("README.md").contains("](docs/options.md)"));
}

/// `line` with what varies from run to run taken out: every address as `ADDR`, every number as
/// `#` (so `time=0.301 ms` and `time=0.084 ms` are one line, and `1 probe` is not `3 probes`).
fn template(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    while at < chars.len() {
        if !chars[at].is_ascii_digit() {
            out.push(chars[at]);
            at += 1;
            continue;
        }
        let start = at;
        // Thousands are grouped with commas (`832,309`): one number however many digits.
        while at < chars.len()
            && (chars[at].is_ascii_digit() || matches!(chars[at], '.' | ':' | ','))
        {
            at += 1;
        }
        // A run ends in a digit; a `.` or `:` after it is the sentence's.
        let mut end = at;
        while !chars[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let run: String = chars[start..end].iter().collect();
        let address = run.matches('.').count() == 3 && run.contains(':');
        out.push_str(if address { "ADDR" } else { "#" });
        at = end;
    }
    out.replace("[::1]:#", "ADDR")
}

/// Every line the current build prints in the runs the guides show, as [`template`]s: ping and
/// bench against a test server, the stream as JSON, open loop, the refused-connection error,
/// ping -u through an echo that does what the README's faulty path does, and the server's -vv
/// dump.
fn lines_this_build_prints() -> std::collections::HashSet<String> {
    use crate::common::{client_at, ServerProcess};
    use crate::udp_measure::{faulty_echo, Fault};
    let server = ServerProcess::start(&[]);
    let mut printed = vec![format!("listening on {}", server.addr)];
    let mut run = |addr, args: &[&str]| {
        let run = client_at(addr, args, Vec::new());
        printed.extend(
            String::from_utf8_lossy(&run.stdout)
                .lines()
                .map(String::from),
        );
        printed.extend(run.stderr.lines().map(String::from));
    };
    run(server.addr, &["ping", "-c", "3", "-i", "0.01"]);
    run(
        server.addr,
        &["bench", "-c", "2", "-d", "0.3", "--warmup", "0"],
    );
    run(server.addr, &["bench", "--stream", "1M", "--json"]);
    let rate = [
        "bench", "--rate", "1000", "-c", "2", "-d", "0.3", "--warmup", "0",
    ];
    run(server.addr, &rate);
    run(crate::common::refused_addr(), &["-m", "x"]);
    // What the README's faulty path does to datagram n: every 10th dropped, every 13th late
    // (1.5 s there, 1.2 s here), every 9th held back past the next, every 7th sent twice. Four
    // probes more than the README's, so that the late echo comes well before the wait for
    // stragglers ends even on a loaded machine; the lines are of the same kinds.
    let (faulty, _) = faulty_echo(|n, _| match n {
        _ if n % 10 == 0 => Fault::Drop,
        _ if n % 13 == 0 => Fault::Delay(std::time::Duration::from_millis(1200)),
        _ if n % 9 == 0 => Fault::HoldForNext,
        _ if n % 7 == 0 => Fault::Twice,
        _ => Fault::Echo,
    });
    run(
        faulty,
        &["ping", "-u", "-c", "24", "-i", "0.1", "--timeout", "1"],
    );
    // An objective met and one missed (docs/measuring.md).
    run(
        server.addr,
        &[
            "ping",
            "-c",
            "2",
            "-i",
            "0.01",
            "--slo",
            "p99<=0.0001ms,loss<1%",
        ],
    );
    // Marking reflected (docs/path.md), where the system can mark.
    if soc::traffic_class_unsupported().is_none() {
        let reflecting = ServerProcess::start(&["-u", "--reflect-tos"]);
        let marked = [
            "ping", "-u", "-c", "3", "-i", "0.01", "--dscp", "AF41", "--ecn", "ect1",
        ];
        run(reflecting.addr, &marked);
        printed.push(format!("listening on udp {}", reflecting.addr));
    }
    // The -vv dump of one line, as docs and the Chinese guide show it.
    let dumping = ServerProcess::start(&["-vv"]);
    let client = crate::common::connect(dumping.addr);
    std::io::Write::write_all(&mut &client, b"hello, dump\n").unwrap();
    let mut echo = [0u8; 12];
    std::io::Read::read_exact(&mut &client, &mut echo).unwrap();
    // Every log line up to the dump's.
    loop {
        let line = dumping
            .stderr
            .recv_timeout(crate::common::STEP)
            .expect("the -vv dump");
        let dump = line.contains("00000000");
        printed.push(line);
        if dump {
            break;
        }
    }
    printed.iter().map(|line| template(line)).collect()
}

#[test]
fn every_sample_output_in_the_guides_is_what_this_build_prints() {
    let printed = lines_this_build_prints();
    let mut checked = 0;
    for document in SAMPLED {
        if document == "docs/path.md" && soc::traffic_class_unsupported().is_some() {
            eprintln!("skipped docs/path.md's samples: this system cannot mark packets");
            continue;
        }
        let text = read(document);
        for block in text.split("```text\n").skip(1) {
            let block = block.split("```").next().unwrap();
            let mut showing = false;
            for line in block.lines() {
                if let Some(command) = line.strip_prefix("$ ") {
                    // A typed session's lines are the user's, not the build's.
                    showing = command.contains(" ping")
                        || command.contains(" bench")
                        || command.starts_with("soc_server");
                    continue;
                }
                if !showing || line.is_empty() || line == "..." {
                    continue;
                }
                // The -vv log's own lines beside the dump (the connection's) are checked too.
                assert!(
                    printed.contains(&template(line)),
                    "{document}: this build prints nothing like\n  {line}\nit prints:\n{}",
                    {
                        let mut all: Vec<&String> = printed.iter().collect();
                        all.sort();
                        all.iter().map(|l| format!("  {l}\n")).collect::<String>()
                    }
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "only {checked} sample lines found");
}

#[test]
fn templates_keep_the_words_and_drop_the_numbers() {
    assert_eq!(
        template("56 bytes from 127.0.0.1:8888: seq=1 time=0.301 ms"),
        "# bytes from ADDR: seq=# time=# ms"
    );
    assert_eq!(
        template("3 probes sent, 10.0% loss."),
        "# probes sent, #% loss."
    );
    assert_eq!(template("p99.9 18.203"), "p# #");
    assert_eq!(
        template("round trips   832,309 (83,231/s), 0 lost, 1 late"),
        "round trips   # (#/s), # lost, # late"
    );
}

#[test]
fn the_licences_cargo_toml_names_are_in_the_repository() {
    let manifest = read("Cargo.toml");
    let license = manifest
        .lines()
        .find_map(|line| line.strip_prefix("license = "))
        .expect("a license field")
        .trim_matches('"');
    let mut found = 0;
    for id in license.split(" OR ") {
        let (file, opening) = match id {
            "MIT" => (
                "LICENSE-MIT",
                "Permission is hereby granted, free of charge",
            ),
            "Apache-2.0" => ("LICENSE-APACHE", "Apache License\n"),
            other => panic!("no licence file known for {other}"),
        };
        assert!(
            read(file).contains(opening),
            "{file} is not the {id} licence"
        );
        assert!(
            read("README.md").contains(&format!("]({file})")),
            "README does not link {file}"
        );
        found += 1;
    }
    assert_eq!(found, 2, "{license}");
}

#[test]
fn the_ladder_steps_are_as_long_as_the_guide_says() {
    let guide = read("docs/learning.md");
    let (_, after) = guide
        .split_once("Each step is a complete program of ")
        .expect("the guide says how long each step is");
    let words: Vec<&str> = after.split_whitespace().take(5).collect();
    // "A to B lines of code"
    let (least, most): (usize, usize) = (words[0].parse().unwrap(), words[2].parse().unwrap());
    assert_eq!(words[3..5], ["lines", "of"], "{words:?}");
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with("//"))
            .count();
        assert!(
            (least..=most).contains(&code),
            "{}: {code} lines of code, the guide says {least} to {most}",
            path.display()
        );
    }
}
