//! The JSON reports are an interface scripts read: every mode is run once as a trustworthy run
//! and once as a failed one, and what it prints is held to docs/json.md, key by key (no key the
//! page does not list, no listed key missing, each block with its own keys), with `ok`, `reason`
//! and `started` saying how and when it ran.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde_json::Value;

use crate::common::{client_at, echo_corrupting, refused_addr, serve_each, ServerProcess};
use crate::udp_measure::{faulty_echo, Fault};

/// A table of docs/json.md: each key with its type column.
type Table = BTreeMap<String, String>;

/// docs/json.md's tables, by the heading above each (`Every report`, `` `ping` ``, `latency`).
fn documented() -> BTreeMap<String, Table> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md")).unwrap();
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut heading = String::new();
    for line in text.lines() {
        if let Some(title) = line
            .strip_prefix("## ")
            .or_else(|| line.strip_prefix("### "))
        {
            heading = title.trim_matches('`').to_string();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 && cells[1].starts_with('`') && cells[1] != "key" {
            let key = cells[1].trim_matches('`').to_string();
            tables
                .entry(heading.clone())
                .or_default()
                .insert(key, cells[2].to_string());
        }
    }
    tables
}

/// The block a type column names (`[latency](#latency) or null` is a latency block).
fn block_of(kind: &str) -> Option<&str> {
    let start = kind.find("](#")? + 3;
    Some(&kind[start..start + kind[start..].find(')')?])
}

/// Holds `report` to the page: its head, then its mode's keys and each block's.
fn check(report: &Value, ok: bool) {
    let tables = documented();
    let mode = report["mode"]
        .as_str()
        .unwrap_or_else(|| panic!("no mode: {report}"));
    let mut allowed = tables["Every report"].clone();
    allowed.extend(
        tables
            .get(mode)
            .unwrap_or_else(|| panic!("docs/json.md has no {mode}"))
            .clone(),
    );
    check_object(report, &allowed, &tables, mode);
    assert_eq!(report["ok"], ok, "{report}");
    match ok {
        true => assert!(report["reason"].is_null(), "{report}"),
        false => assert!(
            !report["reason"].as_str().unwrap_or("").is_empty(),
            "{report}"
        ),
    }
    let started = report["started"].as_str().unwrap();
    assert!(
        started.len() == 27 && started.ends_with('Z') && started.as_bytes()[10] == b'T',
        "RFC 3339 UTC to the microsecond: {started}"
    );
}

fn check_object(value: &Value, table: &Table, tables: &BTreeMap<String, Table>, path: &str) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{path} is not an object: {value}"));
    let keys: BTreeSet<&String> = object.keys().collect();
    for key in &keys {
        assert!(
            table.contains_key(*key),
            "{path}.{key} is not in docs/json.md: {value}"
        );
    }
    for (key, kind) in table {
        if !keys.contains(key) {
            assert!(
                kind.contains("optional"),
                "{path}.{key} is documented but missing: {value}"
            );
            continue;
        }
        let inner = &object[key];
        if inner.is_null() {
            assert!(
                kind.contains("null"),
                "{path}.{key} is null, documented as {kind}"
            );
        } else if let Some(block) = block_of(kind) {
            check_object(inner, &tables[block], tables, &format!("{path}.{key}"));
        } else if kind.starts_with("number") {
            assert!(inner.is_number(), "{path}.{key}: {inner}");
        } else if kind.starts_with("string") {
            assert!(inner.is_string(), "{path}.{key}: {inner}");
        } else if kind.starts_with("boolean") {
            assert!(inner.is_boolean(), "{path}.{key}: {inner}");
        }
    }
}

fn json_of(addr: SocketAddr, args: &[&str]) -> Value {
    let run = client_at(addr, args, Vec::new());
    run.json()
}

#[test]
fn every_mode_prints_the_keys_docs_json_lists_when_it_passes() {
    let server = ServerProcess::start(&["-u"]);
    let short = ["-d", "0.3", "--warmup", "0", "--json"];
    let runs: Vec<Vec<&str>> = vec![
        vec!["ping", "-c", "2", "-i", "0.01", "--json"],
        vec!["ping", "-u", "-c", "2", "-i", "0.01", "--json"],
        vec!["ping", "--connect", "-c", "2", "-i", "0.01", "--json"],
        [&["bench", "-c", "2"][..], &short].concat(),
        [
            &["bench", "--rate", "200", "-c", "2", "-t", "1"][..],
            &short,
        ]
        .concat(),
        [
            &["bench", "-u", "--rate", "200", "-c", "2", "-t", "1"][..],
            &short,
        ]
        .concat(),
        vec!["bench", "--stream", "64K", "--json"],
    ];
    let mut modes = BTreeSet::new();
    for args in runs {
        let report = json_of(server.addr, &args);
        // An open-loop generator held up by a busy machine fails and says so; its keys are the
        // same either way.
        let ok = report["ok"].as_bool() == Some(true);
        if !ok {
            assert!(
                report["reason"]
                    .as_str()
                    .unwrap()
                    .contains("the generator itself was late"),
                "{report}"
            );
        }
        check(&report, ok);
        modes.insert(report["mode"].as_str().unwrap().to_string());
    }
    assert_eq!(modes.len(), 7, "{modes:?}");
}

#[test]
fn a_failed_run_says_so_and_why_in_its_json() {
    let corrupting = serve_each(|stream| echo_corrupting(stream, 20, 1));
    let short = ["-d", "0.3", "--warmup", "0", "--json"];
    for args in [
        vec!["ping", "-c", "2", "-i", "0.01", "--json"],
        [&["bench", "-c", "2"][..], &short].concat(),
        [&["bench", "--rate", "200", "-c", "2"][..], &short].concat(),
        vec!["bench", "--stream", "64K", "--json"],
    ] {
        let run = client_at(corrupting, &args, Vec::new());
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        let report = run.json();
        check(&report, false);
        // The same sentence standard error gets.
        let reason = report["reason"].as_str().unwrap();
        assert!(
            run.stderr.contains(&format!("the run failed: {reason}")),
            "{reason} / {}",
            run.stderr
        );
    }
    let report = json_of(
        refused_addr(),
        &["ping", "--connect", "-c", "2", "-i", "0.01", "--json"],
    );
    check(&report, false);
    assert_eq!(report["reason"], "2 of 2 connects refused", "{report}");
    let (dropping, _) = faulty_echo(|_, _| Fault::Drop);
    let report = json_of(
        dropping,
        &[
            "ping",
            "-u",
            "-c",
            "2",
            "-i",
            "0.01",
            "--timeout",
            "0.2",
            "--json",
        ],
    );
    check(&report, false);
    assert_eq!(report["reason"], "2 of 2 probes lost", "{report}");
    let (flipping, _) = faulty_echo(|_, _| Fault::FlipLastByte);
    let args = [
        "bench",
        "-u",
        "--rate",
        "100",
        "-c",
        "1",
        "-d",
        "0.3",
        "--warmup",
        "0",
        "--timeout",
        "0.2",
        "--json",
    ];
    let report = json_of(flipping, &args);
    check(&report, false);
}

#[test]
fn the_per_probe_records_and_a_merge_of_interval_logs_have_the_documented_keys() {
    let server = ServerProcess::start(&["-u"]);
    let tables = documented();
    let records = crate::common::TempFile::new("records.ndjson");
    let target = format!("udp://{}", server.addr);
    let run = crate::common::run_client(
        &[
            "monitor",
            &target,
            "-c",
            "2",
            "-i",
            "0.01",
            "--ndjson",
            records.arg(),
        ],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let text = records.read();
    assert_eq!(text.lines().count(), 2, "{text}");
    for line in text.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        check_object(&record, &tables["Per-probe records"], &tables, "record");
    }
    let log = crate::common::TempFile::new("keys.hlog");
    let bench = [
        "bench",
        "-c",
        "1",
        "-d",
        "0.2",
        "--warmup",
        "0",
        "--hlog",
        log.arg(),
    ];
    assert!(client_at(server.addr, &bench, Vec::new()).status.success());
    let merged = crate::common::run_client(&["merge", log.arg(), "--json"], Vec::new()).json();
    check(&merged, true);
}
