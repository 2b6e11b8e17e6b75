//! The files `bench` and `ping` write: `--hgrm` (HdrHistogram's percentile distribution),
//! `--hlog` (its interval log, read back with the hdrhistogram crate's own reader) and `--plot`
//! (an SVG, parsed as XML), each checked against the report of the same run.

use std::path::Path;

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::common::{client_at, ClientRun, TempFile, TestServer};

/// A file in the system's temporary folder, named for the test, removed when dropped.
fn json_of(run: &ClientRun) -> serde_json::Value {
    assert!(run.status.success(), "{}", run.stderr);
    run.json()
}

/// Checks an `.hgrm` text: the header, rows whose values and percentiles never go down, and a
/// total count of `samples` in the last row and the footer.
fn check_percentile_distribution(text: &str, samples: u64) {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    assert_eq!(lines.next(), Some(""));
    let mut rows = Vec::new();
    let mut footer = Vec::new();
    for line in lines {
        if line.starts_with("#[") {
            footer.push(line);
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() == 4 || fields.len() == 3, "{line}");
        let value: f64 = fields[0].parse().unwrap();
        let percentile: f64 = fields[1].parse().unwrap();
        let total: u64 = fields[2].parse().unwrap();
        rows.push((value, percentile, total));
    }
    assert!(rows.len() > 10, "{text}");
    for pair in rows.windows(2) {
        let ((v0, p0, t0), (v1, p1, t1)) = (pair[0], pair[1]);
        assert!(v0 <= v1 && p0 <= p1 && t0 <= t1, "{pair:?} in {text}");
    }
    let &(_, last_percentile, last_total) = rows.last().unwrap();
    assert_eq!(last_percentile, 1.0);
    assert_eq!(last_total, samples, "{text}");
    assert_eq!(footer.len(), 3, "{text}");
    assert!(footer[0].starts_with("#[Mean    = "), "{}", footer[0]);
    assert!(
        footer[1].ends_with(&format!("Total count    = {samples:>12}]")),
        "{}",
        footer[1]
    );
    assert!(footer[2].starts_with("#[Buckets = "), "{}", footer[2]);
}

#[test]
fn hgrm_files_hold_every_round_trip_of_bench_and_ping() {
    let server = TestServer::start();
    let open = TempFile::new("open.hgrm");
    let run = client_at(
        server.addr,
        &[
            "bench",
            "--rate",
            "500",
            "-c",
            "2",
            "-d",
            "1",
            "--warmup",
            "0.2",
            "--json",
            "--hgrm",
            open.arg(),
        ],
        Vec::new(),
    );
    // The generator may be late on a shared machine (and say so); the file is written either way.
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    check_percentile_distribution(&open.read(), report["round_trips"].as_u64().unwrap());

    let closed = TempFile::new("closed.hgrm");
    let report = json_of(&client_at(
        server.addr,
        &[
            "bench",
            "-c",
            "2",
            "-d",
            "0.5",
            "--warmup",
            "0",
            "--json",
            "--hgrm",
            closed.arg(),
        ],
        Vec::new(),
    ));
    check_percentile_distribution(&closed.read(), report["round_trips"].as_u64().unwrap());

    let ping = TempFile::new("ping.hgrm");
    let report = json_of(&client_at(
        server.addr,
        &[
            "ping",
            "-c",
            "20",
            "-i",
            "0.01",
            "--json",
            "--hgrm",
            ping.arg(),
        ],
        Vec::new(),
    ));
    assert_eq!(report["echoed"], 20, "{report}");
    check_percentile_distribution(&ping.read(), 20);
}

/// The histograms of an interval log, in order, read with the hdrhistogram crate's reader.
fn intervals_of(path: &Path) -> Vec<Histogram<u64>> {
    let bytes = std::fs::read(path).unwrap();
    let mut deserializer = Deserializer::new();
    IntervalLogIterator::new(&bytes)
        .filter_map(|entry| match entry.expect("a well-formed interval log") {
            LogEntry::Interval(interval) => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .unwrap();
                Some(deserializer.deserialize(&mut encoded.as_slice()).unwrap())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn an_hlog_holds_one_histogram_per_second_adding_up_to_the_round_trips() {
    let server = TestServer::start();
    for (mode, args) in [
        ("rate", vec!["--rate", "300", "-c", "2"]),
        ("ping-pong", vec!["-c", "2"]),
    ] {
        let log = TempFile::new(&format!("{mode}.hlog"));
        let mut all = vec!["bench"];
        all.extend(&args);
        all.extend(["-d", "3", "--warmup", "0.2", "--json", "--hlog", log.arg()]);
        let run = client_at(server.addr, &all, Vec::new());
        let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(report["mode"], mode);
        let text = log.read();
        assert!(text.contains("#[StartTime: "), "{text}");
        assert!(text.contains("#[BaseTime: "), "{text}");
        let intervals = intervals_of(log.path());
        assert_eq!(intervals.len(), 3, "{mode}: one per second measured");
        let counted: u64 = intervals.iter().map(Histogram::len).sum();
        assert_eq!(
            counted,
            report["round_trips"].as_u64().unwrap(),
            "{mode}: {report}"
        );
        assert!(
            intervals.iter().all(|h| !h.is_empty()),
            "{mode}: every second had round trips"
        );
    }
}

#[test]
fn a_plot_is_an_svg_with_its_title_axes_and_series() {
    let server = TestServer::start();
    let plot = TempFile::new("plot.svg");
    let run = client_at(
        server.addr,
        &[
            "bench",
            "--rate",
            "500",
            "-c",
            "2",
            "-d",
            "2",
            "--warmup",
            "0.2",
            "--plot",
            plot.arg(),
        ],
        Vec::new(),
    );
    // Only "wrote FILE", and on a busy machine the generator's own lateness.
    let lines =
        run.stderr.lines().count() - usize::from(crate::common::generator_was_late(&run.stderr));
    assert!(lines <= 1, "{}", run.stderr);
    let svg = plot.read();
    let document = roxmltree::Document::parse(&svg).expect("the plot is well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let texts: Vec<String> = document
        .descendants()
        .filter(|node| node.has_tag_name("text"))
        .map(|node| node.text().unwrap_or("").trim().to_string())
        .collect();
    let has = |needle: &str| texts.iter().any(|text| text.contains(needle));
    // The title says what was measured.
    assert!(
        has("--rate 500") && has("open loop") && has(&server.addr.to_string()),
        "{texts:?}"
    );
    for label in [
        "latency by percentile",
        "latency over time",
        "latency (ms)",
        "percentile",
        "90%",
        "99%",
        "(corrected)",
        "(uncorrected)",
        "p50",
        "p99",
        "max",
    ] {
        assert!(has(label), "no {label:?} among {texts:?}");
    }
    let lines = document
        .descendants()
        .filter(|node| node.has_tag_name("polyline") || node.has_tag_name("path"))
        .count();
    assert!(lines >= 5, "the curves: {lines} lines drawn");
}
