//! `cargo bench`: soc_server driven by soc's own load generator, side by side with the minimal C
//! thread-per-connection server this repository carries (`benches/reference/c_threaded_echo.c`,
//! built with the system's C compiler, `cc` or `$CC`, when there is one).
//!
//! Servers are alternated within each round (on a 2-core machine a single number is noise) and
//! the table reports medians over rounds and the soc/C ratio. Everything stays on 127.0.0.1.
//!
//! ```sh
//! cargo bench                       # 3 rounds, 3 s per ping-pong workload
//! cargo bench -- --rounds 5 --seconds 5
//! ```

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use soc::client::Target;
use soc::limits::Limit;
use soc::measure::pingpong::{ping_pong, PingPongOptions};
use soc::measure::stream::{stream, StreamOptions};
use soc::signals::StopFlag;

/// A workload of the matrix, in the same shape as `../shared/bench/compare.py`'s.
#[derive(Clone, Copy)]
enum Workload {
    PingPong { connections: usize, size: usize },
    Stream { bytes: u64 },
}

impl Workload {
    fn name(self) -> String {
        match self {
            Workload::PingPong { connections, size } => format!("pp {connections}x{size}B"),
            Workload::Stream { bytes } => format!("stream {} MiB", bytes >> 20),
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Workload::PingPong { .. } => "rt/s",
            Workload::Stream { .. } => "MB/s",
        }
    }
}

/// How to start a server that listens on 127.0.0.1.
struct ServerKind {
    name: &'static str,
    start: Box<dyn Fn() -> anyhow::Result<(Child, SocketAddr)>>,
}

fn main() -> anyhow::Result<()> {
    let mut rounds = 3;
    let mut seconds = 3.0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().context("--rounds N")?.parse()?,
            "--seconds" => seconds = args.next().context("--seconds S")?.parse()?,
            "--bench" => {} // passed by cargo bench
            other => bail!("unknown argument {other:?} (try --rounds N, --seconds S)"),
        }
    }
    let workloads = [
        Workload::PingPong {
            connections: 1,
            size: 64,
        },
        Workload::PingPong {
            connections: 50,
            size: 64,
        },
        Workload::PingPong {
            connections: 1,
            size: 16 * 1024,
        },
        Workload::Stream { bytes: 256 << 20 },
    ];
    let mut servers = vec![ServerKind {
        name: "soc_server",
        start: Box::new(start_soc),
    }];
    match build_c_reference() {
        Ok(binary) => servers.push(ServerKind {
            name: "C threads",
            start: Box::new(move || start_c(&binary)),
        }),
        Err(err) => eprintln!("no C reference server ({err:#}); measuring soc_server alone"),
    }

    // results[workload][server] = one number per round
    let mut results = vec![vec![Vec::new(); servers.len()]; workloads.len()];
    for round in 1..=rounds {
        eprintln!("round {round}/{rounds}");
        for (w, workload) in workloads.iter().enumerate() {
            // Alternate the order too, so that neither server always runs right after the other.
            let order: Vec<usize> = if round % 2 == 1 {
                (0..servers.len()).collect()
            } else {
                (0..servers.len()).rev().collect()
            };
            for s in order {
                let value = measure(&servers[s], *workload, seconds)
                    .with_context(|| format!("{} on {}", workload.name(), servers[s].name))?;
                eprintln!(
                    "  {:<10} {:<14} {value:>10.0} {}",
                    servers[s].name,
                    workload.name(),
                    workload.unit()
                );
                results[w][s].push(value);
            }
        }
    }

    println!("\nmedians of {rounds} rounds, {seconds} s per ping-pong workload, loader: soc::bench (1 event-loop thread)\n");
    print!("| workload |");
    for server in &servers {
        print!(" {} |", server.name);
    }
    if servers.len() == 2 {
        print!(" soc / C (median of rounds) |");
    }
    println!();
    println!(
        "|---{}|",
        "|---".repeat(servers.len() + usize::from(servers.len() == 2))
    );
    for (w, workload) in workloads.iter().enumerate() {
        print!("| {} |", workload.name());
        let medians: Vec<f64> = results[w].iter().map(|values| median(values)).collect();
        for value in &medians {
            print!(" {value:.0} {} |", workload.unit());
        }
        if let [soc, c] = &results[w][..] {
            // The ratio within each round (the two ran back to back), then its median: steadier
            // than a ratio of medians on a shared machine.
            let ratios: Vec<f64> = soc.iter().zip(c).map(|(s, c)| s / c).collect();
            print!(" {:.2} |", median(&ratios));
        }
        println!();
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn measure(server: &ServerKind, workload: Workload, seconds: f64) -> anyhow::Result<f64> {
    let (mut child, addr) = (server.start)()?;
    let result = run_workload(addr, workload, seconds);
    let _ = child.kill(); // by PID: only the server this run started
    let _ = child.wait();
    result
}

fn run_workload(addr: SocketAddr, workload: Workload, seconds: f64) -> anyhow::Result<f64> {
    let timeout = Limit::After(Duration::from_secs(10));
    let target = Target::new(vec![addr], timeout);
    match workload {
        Workload::PingPong { connections, size } => {
            let options = PingPongOptions {
                connections,
                size,
                duration: Duration::from_secs_f64(seconds),
                warmup: Duration::from_millis(500),
                timeout,
                threads: 1,
                intervals: false,
            };
            let report = ping_pong(&target, &options, &StopFlag::new(), |_| {})?.report;
            if report.errors.total() > 0 {
                bail!("errors: {:?}", report.errors);
            }
            Ok(report.round_trips_per_sec)
        }
        Workload::Stream { bytes } => {
            let report = stream(&target, &StreamOptions { bytes, timeout })?;
            if !report.intact() {
                bail!("the stream came back altered: {report:?}");
            }
            Ok(report.mb_per_sec)
        }
    }
}

fn start_soc() -> anyhow::Result<(Child, SocketAddr)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_server"))
        .args(["--port", "0", "-q", "--max-clients", "10000"])
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start soc_server")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .context("no `listening on` line")?
        .parse()?;
    Ok((child, addr))
}

/// Compiles `benches/reference/c_threaded_echo.c` (POSIX threads and sockets: Linux, macOS) into
/// the target directory.
fn build_c_reference() -> anyhow::Result<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/c_threaded_echo.c");
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/c_threaded_echo");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&compiler)
        .args(["-O2", "-pthread", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .with_context(|| format!("could not run the C compiler `{compiler}`"))?;
    if !status.success() {
        bail!("{compiler} failed: {status}");
    }
    Ok(binary)
}

fn start_c(binary: &Path) -> anyhow::Result<(Child, SocketAddr)> {
    // The C server takes a port and prints nothing: pick a free one, then wait until it accepts.
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let child = Command::new(binary)
        .arg(addr.port().to_string())
        .stderr(Stdio::null())
        .spawn()
        .context("could not start the C server")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("the C server did not start listening on {addr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((child, addr))
}
