//! `cargo bench`: soc_server measured side by side with the minimal C servers this repository
//! carries (`benches/reference/`, built with the system's C compiler, `cc` or `$CC`, when there is
//! one): over TCP against a thread-per-connection server, driven by soc's own load generator;
//! over UDP (`soc_server -u`) against a one-thread `recvfrom`/`sendto` echo, and against socat's
//! and ncat's UDP echo where they are installed, driven by a window of datagrams per socket.
//!
//! Servers are alternated within each round (on a 2-core machine a single number is noise) and
//! the tables report medians over rounds and soc/C as the median of the per-round ratios.
//! Everything stays on 127.0.0.1.
//!
//! ```sh
//! cargo bench                       # 3 rounds, 3 s per workload
//! cargo bench -- --rounds 5 --seconds 5
//! ```

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use soc::limits::Limit;
use soc::measure::pingpong::{ping_pong, PingPongOptions};
use soc::measure::stream::{stream, StreamOptions};
use soc::signals::StopFlag;
use soc::Pattern;
use soc::Target;

/// A workload of the matrix, in the same shape as `../shared/bench/compare.py`'s.
#[derive(Clone, Copy)]
enum Workload {
    PingPong {
        connections: usize,
        size: usize,
    },
    Stream {
        bytes: u64,
    },
    /// `sockets` UDP sockets, each keeping `window` datagrams of `size` bytes waiting for their
    /// echo (a datagram not back within a second is lost and its place refilled).
    Datagrams {
        sockets: usize,
        window: usize,
        size: usize,
    },
}

impl Workload {
    fn name(self) -> String {
        match self {
            Workload::PingPong { connections, size } => format!("pp {connections}x{size}B"),
            Workload::Stream { bytes } => format!("stream {} MiB", bytes >> 20),
            Workload::Datagrams {
                sockets,
                window,
                size,
            } => format!("udp {sockets}x{window}x{size}B"),
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Workload::PingPong { .. } => "rt/s",
            Workload::Stream { .. } => "MB/s",
            Workload::Datagrams { .. } => "dgram/s",
        }
    }
}

/// How to start a server that listens on 127.0.0.1: it returns the child and its address.
struct ServerKind {
    name: &'static str,
    start: Box<dyn Fn() -> anyhow::Result<(Child, SocketAddr)>>,
    /// A peer's failure is a row of the table ("fails: …"); soc's or the reference's ends the run.
    may_fail: bool,
}

/// Servers measured on the same workloads; the first is soc, the second (if any) the C
/// reference the ratio is taken against.
struct Suite {
    title: &'static str,
    workloads: Vec<Workload>,
    servers: Vec<ServerKind>,
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
    let mut tcp = Suite {
        title: "TCP, loader: soc::measure (1 event-loop thread)",
        workloads: vec![
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
        ],
        servers: vec![server("soc_server", || start_soc(&[]))],
    };
    let mut udp = Suite {
        title: "UDP, loader: a window of 8 datagrams on each of 4 sockets (1 event-loop thread)",
        workloads: vec![Workload::Datagrams {
            sockets: 4,
            window: 8,
            size: 64,
        }],
        servers: vec![server("soc_server -u", || start_soc(&["-u"]))],
    };
    match build_c("c_threaded_echo", &["-pthread"]) {
        Ok(binary) => tcp
            .servers
            .push(server("C threads", move || start_c_tcp(&binary))),
        Err(err) => eprintln!("no C reference server ({err:#}); measuring soc_server alone"),
    }
    match build_c("c_udp_echo", &[]) {
        Ok(binary) => udp
            .servers
            .push(server("C udp", move || start_c_udp(&binary))),
        Err(err) => eprintln!("no C UDP reference ({err:#}); measuring soc_server alone"),
    }
    for (name, installed) in [("socat", "socat"), ("ncat", "ncat")] {
        if Command::new(installed)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            udp.servers.push(ServerKind {
                name,
                start: Box::new(move || start_peer_udp(name)),
                may_fail: true,
            });
        } else {
            eprintln!("{name} is not installed: left out of the UDP table");
        }
    }
    for suite in [tcp, udp] {
        run_suite(&suite, rounds, seconds)?;
    }
    Ok(())
}

fn server(
    name: &'static str,
    start: impl Fn() -> anyhow::Result<(Child, SocketAddr)> + 'static,
) -> ServerKind {
    ServerKind {
        name,
        start: Box::new(start),
        may_fail: false,
    }
}

/// Runs every workload on every server of `suite`, `rounds` times, and prints the table.
fn run_suite(suite: &Suite, rounds: usize, seconds: f64) -> anyhow::Result<()> {
    let servers = &suite.servers;
    // results[workload][server] = one number per round, or why the server failed
    let mut results: Vec<Vec<Result<Vec<f64>, String>>> =
        vec![vec![Ok(Vec::new()); servers.len()]; suite.workloads.len()];
    for round in 1..=rounds {
        eprintln!("{}: round {round}/{rounds}", suite.title);
        for (w, workload) in suite.workloads.iter().enumerate() {
            // Alternate the order too, so that no server always runs right after another.
            let order: Vec<usize> = match round % 2 {
                1 => (0..servers.len()).collect(),
                _ => (0..servers.len()).rev().collect(),
            };
            for s in order {
                let Ok(values) = &mut results[w][s] else {
                    continue;
                };
                match measure(&servers[s], *workload, seconds) {
                    Ok(value) => {
                        eprintln!(
                            "  {:<14} {:<16} {value:>10.0} {}",
                            servers[s].name,
                            workload.name(),
                            workload.unit()
                        );
                        values.push(value);
                    }
                    Err(err) if servers[s].may_fail => {
                        eprintln!(
                            "  {:<14} {:<16} fails: {err:#}",
                            servers[s].name,
                            workload.name()
                        );
                        results[w][s] = Err(format!("{err:#}"));
                    }
                    Err(err) => {
                        return Err(err.context(format!(
                            "{} on {}",
                            workload.name(),
                            servers[s].name
                        )))
                    }
                }
            }
        }
    }

    println!(
        "\n{}: medians of {rounds} rounds, {seconds} s per workload\n",
        suite.title
    );
    let ratio = servers.len() >= 2;
    print!("| workload |");
    for server in servers {
        print!(" {} |", server.name);
    }
    if ratio {
        print!(" soc / {}: median (per round) |", servers[1].name);
    }
    println!();
    println!("|---{}|", "|---".repeat(servers.len() + usize::from(ratio)));
    for (w, workload) in suite.workloads.iter().enumerate() {
        print!("| {} |", workload.name());
        for result in &results[w] {
            match result {
                Ok(values) => print!(" {:.0} {} |", median(values), workload.unit()),
                Err(why) => print!(" fails: {why} |"),
            }
        }
        if let (true, Ok(soc), Ok(reference)) = (ratio, &results[w][0], &results[w][1]) {
            // The ratio within each round (the two ran back to back), then its median: steadier
            // than a ratio of medians on a shared machine.
            let ratios: Vec<f64> = soc.iter().zip(reference).map(|(s, c)| s / c).collect();
            let each: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.2}")).collect();
            print!(" **{:.2}** ({}) |", median(&ratios), each.join(" "));
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
        Workload::Datagrams {
            sockets,
            window,
            size,
        } => datagrams(
            addr,
            sockets,
            window,
            size,
            Duration::from_secs_f64(seconds),
        ),
    }
}

/// How long a datagram may take before it counts as lost and its place in the window is filled.
const DATAGRAM_TIMEOUT: Duration = Duration::from_secs(1);

/// Datagrams echoed per second: one thread drives `sockets` sockets (mio, like the TCP loader),
/// each keeping `window` datagrams in flight, for `seconds` after a 0.5 s warm-up. Every echo is
/// checked against the datagrams in flight on its socket (in any order: a server may reorder
/// them); one not back within a second is lost and its place filled again, and an echo of it
/// that comes later is let go. An echo that matches nothing sent (merged, altered or misrouted)
/// fails the run.
fn datagrams(
    server: SocketAddr,
    sockets: usize,
    window: usize,
    size: usize,
    seconds: Duration,
) -> anyhow::Result<f64> {
    struct Flow {
        socket: mio::net::UdpSocket,
        in_flight: VecDeque<(Vec<u8>, Instant)>,
        /// Datagrams given up on, whose echo may still come.
        given_up: VecDeque<Vec<u8>>,
        next: u64,
    }
    let mut poll = mio::Poll::new()?;
    let mut flows = Vec::with_capacity(sockets);
    for id in 0..sockets {
        let std_socket = UdpSocket::bind("127.0.0.1:0")?;
        std_socket.connect(server)?;
        std_socket.set_nonblocking(true)?;
        let mut socket = mio::net::UdpSocket::from_std(std_socket);
        poll.registry()
            .register(&mut socket, mio::Token(id), mio::Interest::READABLE)?;
        flows.push(Flow {
            socket,
            in_flight: VecDeque::new(),
            given_up: VecDeque::new(),
            next: 0,
        });
    }
    let datagram = |id: usize, seq: u64| {
        let mut bytes = Pattern::new(id as u64 * 1_000_003 + seq).take(size);
        bytes[..8].copy_from_slice(&seq.to_be_bytes());
        bytes
    };
    let fill = |id: usize, flow: &mut Flow| -> anyhow::Result<()> {
        while flow.in_flight.len() < window {
            let bytes = datagram(id, flow.next);
            flow.socket.send(&bytes)?;
            flow.in_flight.push_back((bytes, Instant::now()));
            flow.next += 1;
        }
        Ok(())
    };
    let warmup = Duration::from_millis(500);
    let started = Instant::now();
    let (measure_from, end) = (started + warmup, started + warmup + seconds);
    for (id, flow) in flows.iter_mut().enumerate() {
        fill(id, flow)?;
    }
    let mut events = mio::Events::with_capacity(64);
    let mut buf = vec![0u8; 65_536];
    let mut echoed = 0u64;
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in events.iter() {
            let id = event.token().0;
            let flow = &mut flows[id];
            loop {
                let n = match flow.socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(err) => return Err(err.into()),
                };
                let echo = &buf[..n];
                if let Some(at) = flow.in_flight.iter().position(|(d, _)| d == echo) {
                    flow.in_flight.remove(at);
                    if Instant::now() >= measure_from {
                        echoed += 1;
                    }
                } else if !flow.given_up.iter().any(|d| d == echo) {
                    bail!("an echo of {n} bytes matching no datagram sent (merged or altered)");
                }
            }
        }
        for (id, flow) in flows.iter_mut().enumerate() {
            while flow
                .in_flight
                .front()
                .is_some_and(|(_, sent)| sent.elapsed() > DATAGRAM_TIMEOUT)
            {
                let (lost, _) = flow.in_flight.pop_front().expect("a front just seen");
                if flow.given_up.len() == 1024 {
                    flow.given_up.pop_front();
                }
                flow.given_up.push_back(lost);
            }
            fill(id, flow)?;
        }
    }
    Ok(echoed as f64 / seconds.as_secs_f64())
}

fn start_soc(extra: &[&str]) -> anyhow::Result<(Child, SocketAddr)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_soc_server"))
        .args(["--port", "0", "-q", "--max-clients", "10000"])
        .args(extra)
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
    // With -u the UDP socket has the same address (its line follows).
    Ok((child, addr))
}

/// Compiles `benches/reference/NAME.c` (POSIX sockets: Linux, macOS) into the target directory.
fn build_c(name: &str, flags: &[&str]) -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = root.join(format!("benches/reference/{name}.c"));
    let binary = root.join(format!("target/{name}"));
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&compiler)
        .arg("-O2")
        .args(flags)
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
        .with_context(|| format!("could not run the C compiler `{compiler}`"))?;
    if !status.success() {
        bail!("{compiler} failed: {status}");
    }
    Ok(binary)
}

fn start_c_tcp(binary: &Path) -> anyhow::Result<(Child, SocketAddr)> {
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
        thread::sleep(Duration::from_millis(10));
    }
    Ok((child, addr))
}

fn start_c_udp(binary: &Path) -> anyhow::Result<(Child, SocketAddr)> {
    let addr = UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
    let child = Command::new(binary)
        .arg(addr.port().to_string())
        .stderr(Stdio::null())
        .spawn()
        .context("could not start the C UDP server")?;
    await_udp_echo(child, addr)
}

/// socat's and ncat's UDP echo, as their manuals show them.
fn start_peer_udp(name: &str) -> anyhow::Result<(Child, SocketAddr)> {
    let addr = UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
    let port = addr.port().to_string();
    let mut command = Command::new(name);
    match name {
        // A process per datagram.
        "socat" => command.args([&format!("UDP4-RECVFROM:{port},bind=127.0.0.1,fork"), "PIPE"]),
        // A process and a `cat` per client address.
        _ => command.args([
            "-u",
            "-l",
            "127.0.0.1",
            &port,
            "--keep-open",
            "--exec",
            "/bin/cat",
        ]),
    };
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("could not start {name}"))?;
    await_udp_echo(child, addr)
}

/// Waits (5 s at most) until a datagram to `addr` comes back.
fn await_udp_echo(mut child: Child, addr: SocketAddr) -> anyhow::Result<(Child, SocketAddr)> {
    let probe = UdpSocket::bind("127.0.0.1:0")?;
    probe.set_read_timeout(Some(Duration::from_millis(100)))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        probe.send_to(b"ready?", addr)?;
        if probe.recv_from(&mut buf).is_ok() {
            return Ok((child, addr));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    bail!("no echo from udp {addr} within 5 s")
}
