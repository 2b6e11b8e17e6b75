//! `--metrics`: what soc_server and `soc_client monitor` expose for Prometheus. The exposition is
//! checked by Prometheus's own linter (promtool) while the server is under load; the endpoint is
//! tried with garbage, a request line that never ends and a hundred idle connections, and still
//! answers a scrape; and a real Prometheus scrapes both and is queried.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::{connect, http_get, metrics_addr, peer, sample, Reaped, ServerProcess, STEP};

/// A soc_server with metrics, and where they are.
fn server_with_metrics(args: &[&str]) -> (ServerProcess, SocketAddr) {
    let server = ServerProcess::start(&[&["--metrics", "127.0.0.1:0"][..], args].concat());
    let metrics = metrics_addr(&server.expect_output("metrics on "));
    (server, metrics)
}

/// What `promtool check metrics` says of `exposition` (its exit status and its words).
fn promtool(promtool: &std::path::Path, exposition: &str) -> (bool, String) {
    let output = crate::common::fed(promtool, &["check", "metrics"], exposition);
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

#[test]
fn the_servers_metrics_count_what_happened() {
    let (server, metrics) = server_with_metrics(&["-u", "--max-clients", "2"]);
    let (status, before) = http_get(metrics, "/metrics", &[]);
    assert_eq!(status, "HTTP/1.1 200 OK", "{before}");
    assert_eq!(
        sample(&before, "soc_server_clients_served_total"),
        Some(0.0),
        "{before}"
    );
    let clients: Vec<TcpStream> = (0..2).map(|_| connect(server.addr)).collect();
    for client in &clients {
        (&*client).write_all(b"hello\n").unwrap();
        let mut echo = [0u8; 6];
        (&*client).read_exact(&mut echo).unwrap();
    }
    // A third is beyond --max-clients: closed at once, counted.
    let third = connect(server.addr);
    let mut byte = [0u8; 1];
    assert_eq!((&third).read(&mut byte).unwrap_or(0), 0);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(STEP)).unwrap();
    udp.send_to(b"datagram", server.addr).unwrap();
    let mut echo = [0u8; 16];
    assert_eq!(udp.recv(&mut echo).unwrap(), 8);
    let (_, after) = http_get(metrics, "/metrics", &[]);
    assert_eq!(
        sample(&after, "soc_server_clients_served_total"),
        Some(2.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "soc_server_clients_active"),
        Some(2.0),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            "soc_server_clients_rejected_total{reason=\"limit\"}"
        ),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "soc_server_bytes_echoed_total"),
        Some(12.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "soc_server_datagrams_echoed_total"),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "soc_build_info{version=\"0.1.0\"}"),
        Some(1.0),
        "{after}"
    );
    assert!(
        sample(&after, "process_start_time_seconds").unwrap() > 1.6e9,
        "{after}"
    );
}

#[test]
fn promtool_finds_nothing_wrong_with_either_exposition_during_load() {
    let Some(linter) = peer("promtool", "prometheus") else {
        return;
    };
    let (server, metrics) = server_with_metrics(&["-u"]);
    // Load while it is scraped: a closed-loop bench and a monitor of the same server.
    let bench = Command::new(env!("CARGO_BIN_EXE_soc_client"))
        .args(crate::common::at(server.addr))
        .args(["bench", "-c", "4", "-d", "2", "--warmup", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _bench = Reaped(bench);
    let (_monitor, lines) = crate::monitor::monitor_running(&[
        &format!("{}", server.addr),
        &format!("udp://{}", server.addr),
        &format!("connect://{}", server.addr),
        "-i",
        "0.05",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let monitor_metrics = metrics_addr(&lines.recv_timeout(STEP).unwrap());
    crate::monitor::wait_for_line(&lines, "udp://", "seq=3 time=");
    for addr in [metrics, monitor_metrics] {
        let (_, prometheus_text) = http_get(addr, "/metrics", &[]);
        let (clean, said) = promtool(&linter, &prometheus_text);
        assert!(
            clean && said.trim().is_empty(),
            "promtool on {addr}: {said}\n{prometheus_text}"
        );
        // OpenMetrics, when asked for: promtool's text linter reads counters' HELP as missing
        // there (OpenMetrics names the family `x` and its samples `x_total`), and says nothing
        // else.
        let accept = "Accept: application/openmetrics-text; version=1.0.0";
        let (_, openmetrics) = http_get(addr, "/metrics", &[accept]);
        assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
        let (_, said) = promtool(&linter, &openmetrics);
        for complaint in said.lines().filter(|line| !line.trim().is_empty()) {
            assert!(
                complaint.ends_with("_total no help text"),
                "promtool on {addr}: {complaint}"
            );
        }
    }
}

#[test]
fn garbage_endless_requests_and_idle_connections_leave_the_probes_on_time_and_a_scrape_answered() {
    let (server, _) = server_with_metrics(&["-u"]);
    let (_monitor, lines) = crate::monitor::monitor_running(&[
        &format!("udp://{}", server.addr),
        "-i",
        "0.01",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = metrics_addr(&lines.recv_timeout(STEP).unwrap());
    crate::monitor::wait_for_line(&lines, "udp://", "seq=10 time=");
    let (_, before) = http_get(metrics, "/metrics", &[]);
    let late = |text: &str| {
        let all = sample(text, "soc_monitor_lateness_seconds_count").unwrap();
        let in_time = sample(text, "soc_monitor_lateness_seconds_bucket{le=\"1\"}").unwrap();
        all - in_time
    };
    let started = Instant::now();
    // A hundred connections that send nothing, one that sends garbage, one whose request line
    // never ends.
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(metrics)).collect();
    let garbage = connect(metrics);
    (&garbage)
        .write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = (&garbage).read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    let endless = connect(metrics);
    let mut sent = 0usize;
    // Socket buffers take some megabytes before the cut reaches the writer; a server that read
    // on would take them all.
    while (&endless).write_all(&[b'a'; 4096]).is_ok() && sent < 64 << 20 {
        sent += 4096;
    }
    assert!(
        sent < 64 << 20,
        "an endless request line is cut off, not read for ever"
    );
    // Still, a scrape is answered, and no probe went out more than a second late.
    let (status, after) = http_get(metrics, "/metrics", &[]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(late(&after), late(&before), "{after}");
    let probes = sample(
        &after,
        &format!(
            "soc_probe_sent_total{{target=\"{}\",proto=\"udp\"}}",
            server.addr
        ),
    )
    .unwrap()
        - sample(
            &before,
            &format!(
                "soc_probe_sent_total{{target=\"{}\",proto=\"udp\"}}",
                server.addr
            ),
        )
        .unwrap();
    // 100 a second: the probes kept their schedule through it all.
    let due = started.elapsed().as_secs_f64() * 100.0;
    assert!(
        probes >= due - 5.0,
        "{probes} probes sent in {:?}, {due} due",
        started.elapsed()
    );
    assert_eq!(http_get(metrics, "/other", &[]).0, "HTTP/1.1 404 Not Found");
    drop(idle);
}

/// `text` as it goes in a URL's query.
#[cfg(target_os = "linux")]
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The first value of Prometheus's answer to `query`, if it has one.
#[cfg(target_os = "linux")]
fn query(prometheus: SocketAddr, query: &str) -> Option<f64> {
    let (status, body) = http_get(
        prometheus,
        &format!("/api/v1/query?query={}", url_encoded(query)),
        &[],
    );
    assert!(status.ends_with("200 OK"), "{status}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

// A real Prometheus scrapes a monitor and a server (Debian's package, on Linux; it says so and
// is skipped where it is not installed, except under .ci/run, which installs it).
#[cfg(target_os = "linux")]
#[test]
fn a_real_prometheus_scrapes_a_monitor_and_a_server_and_answers_queries_of_them() {
    let Some(prometheus) = peer("prometheus", "prometheus") else {
        return;
    };
    let (server, server_metrics) = server_with_metrics(&[]);
    let echo = ServerProcess::start(&["-u"]);
    let (_monitor, lines) = crate::monitor::monitor_running(&[
        &format!("udp://{}", echo.addr),
        "-i",
        "0.1",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let monitor_metrics = metrics_addr(&lines.recv_timeout(STEP).unwrap());
    // Three clients, each served and gone.
    for _ in 0..3 {
        let client = connect(server.addr);
        (&client).write_all(b"hi\n").unwrap();
        let mut echo = [0u8; 3];
        (&client).read_exact(&mut echo).unwrap();
    }
    let data = crate::common::TempDir::new("prometheus");
    let config = data.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: \
             monitor\n    static_configs:\n      - targets: ['{monitor_metrics}']\n  - job_name: \
             server\n    static_configs:\n      - targets: ['{server_metrics}']\n"
        ),
    )
    .unwrap();
    let web = crate::common::refused_addr();
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            data.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _prometheus = Reaped(child);
    // Until it has scraped the monitor's counter twice, and it grew (bounded: 30 s).
    use std::time::Duration;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut grown = None;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        if TcpStream::connect(web).is_err() {
            continue;
        }
        if let Some(increase) =
            query(web, "increase(soc_probe_sent_total[10s])").filter(|v| *v > 0.0)
        {
            grown = Some(increase);
            break;
        }
    }
    assert!(
        grown.is_some(),
        "Prometheus never saw soc_probe_sent_total grow"
    );
    let median = query(
        web,
        "histogram_quantile(0.5, rate(soc_probe_rtt_seconds_bucket[10s]))",
    )
    .unwrap();
    assert!(
        median.is_finite() && median > 0.0 && median < 0.1,
        "median round trip {median} s"
    );
    assert_eq!(query(web, "soc_server_clients_served_total"), Some(3.0));
    // The README's loss ratio, on a path that loses nothing.
    let loss = "rate(soc_probe_lost_total[10s]) / rate(soc_probe_sent_total[10s])";
    assert_eq!(query(web, loss), Some(0.0));
    assert_eq!(query(web, "soc_probe_up"), Some(1.0));
}

#[test]
fn the_prometheus_configuration_in_contrib_is_valid() {
    let Some(linter) = peer("promtool", "prometheus") else {
        return;
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/prometheus");
    for (what, file) in [("config", "prometheus.yml"), ("rules", "soc-rules.yml")] {
        let output = Command::new(&linter)
            .args(["check", what, &format!("{dir}/{file}")])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "promtool check {what} {file}: {said}"
        );
    }
}
