//! soc_client's command line: parsed (`args.rs`, what was typed), then built into a
//! [`ClientRequest`] (what to do), every rule between flags checked here. Neither step exits the
//! process: a mistake comes back as a [`clap::Error`], which the binary shows and exits 2 with,
//! as clap does, and every rule has a unit test.

mod args;
mod typo;

use std::ffi::OsString;
use std::net::SocketAddr;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};

use super::{Generate, Verbosity};
use crate::client::{MessageOptions, Transport};
use crate::limits::Limit;
use crate::measure::connect::ConnectOptions;
use crate::measure::export::ExportFiles;
use crate::measure::monitor::{targets_in, MonitorOptions, Proto, TargetSpec};
use crate::measure::open_loop::{self, RateOptions};
use crate::measure::output::{ProbeLines, ReportOptions, Shown};
use crate::measure::ping::PingOptions;
use crate::measure::pingpong::PingPongOptions;
use crate::measure::slo;
use crate::measure::stream::StreamOptions;
use crate::measure::udp_ping::UdpPingOptions;
use crate::measure::{Probes, Workload};
use crate::net::{Family, Fragmenting, PathOptions};
use crate::wire::{Layout, MAX_DATAGRAM};
use args::{Args, BenchArgs, Command, MonitorArgs, PingArgs};

/// What the command line asks soc_client to do.
#[derive(Debug)]
pub struct ClientRequest {
    /// The server's host, as given (a name, an address, `[::1]`).
    pub host: String,
    pub port: u16,
    pub connect_timeout: Limit,
    /// What the client asks of its packets' path.
    pub path: PathOptions,
    pub verbosity: Verbosity,
    pub transport: Transport,
    pub mode: ClientMode,
}

/// The client's modes, each with its library options.
#[derive(Debug)]
pub enum ClientMode {
    /// No subcommand and no `-m`: an interactive session on a terminal, piped mode otherwise.
    Session { timeout: Limit },
    /// `-m TEXT`.
    Message(MessageOptions),
    /// `ping`.
    Ping(PingRequest),
    /// `bench`.
    Bench(BenchRequest),
    /// `monitor`.
    Monitor(MonitorRequest),
    /// `merge`.
    Merge(MergeRequest),
    /// `--generate`: a manual page or completions.
    Generate(Generate),
}

/// What `merge` is asked.
#[derive(Debug)]
pub struct MergeRequest {
    pub files: Vec<std::path::PathBuf>,
    pub report: ReportOptions,
}

/// What `ping` is asked.
#[derive(Debug)]
pub struct PingRequest {
    pub probes: Probes,
    pub lines: ProbeLines,
    pub report: ReportOptions,
}

/// What `bench` is asked.
#[derive(Debug)]
pub struct BenchRequest {
    pub workload: Workload,
    pub report: ReportOptions,
}

/// What `monitor` is asked.
#[derive(Debug)]
pub struct MonitorRequest {
    pub targets: Vec<TargetSpec>,
    pub options: MonitorOptions,
    pub lines: ProbeLines,
    /// Where to serve metrics, if asked.
    pub metrics: Option<SocketAddr>,
    /// Only the summaries (`-q`).
    pub quiet: bool,
}

/// soc_client's whole command line, for `--generate`.
pub fn command() -> clap::Command {
    Args::command()
}

impl ClientRequest {
    /// The request `words` make (the program's name first), or the usage error to show.
    pub fn parse_from<I, T>(words: I) -> Result<ClientRequest, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let words: Vec<String> = words
            .into_iter()
            .map(|word| word.into().to_string_lossy().into_owned())
            .collect();
        if let Some((typed, meant)) = typo::subcommand_typo(&Args::command(), &words) {
            return Err(typo::subcommand_typo_error(&typed, meant));
        }
        let matches = Args::command().try_get_matches_from(&words)?;
        let args = Args::from_arg_matches(&matches)?;
        build(args)
    }
}

/// A usage error (exit code 2) saying `message`.
fn usage(message: impl std::fmt::Display) -> clap::Error {
    Args::command().error(ErrorKind::ArgumentConflict, message)
}

/// The request that `args` amount to, every rule between them checked.
fn build(mut args: Args) -> Result<ClientRequest, clap::Error> {
    let given = args.endpoint.given();
    let after = match &mut args.command {
        Some(Command::Ping(ping)) => Some(&mut ping.endpoint),
        Some(Command::Bench(bench)) => Some(&mut bench.endpoint),
        Some(Command::Monitor(_)) if given => {
            let how = "soc_client monitor HOST:PORT udp://HOST:PORT";
            return Err(usage(format!("monitor takes its targets after it: {how}")));
        }
        Some(Command::Merge(_)) if given => {
            return Err(usage("merge reads files, and takes no server"))
        }
        Some(Command::Monitor(_) | Command::Merge(_)) | None => None,
    };
    if let Some(after) = after {
        args.endpoint
            .also(after.target.take(), after.target_port.take())
            .map_err(usage)?;
    }
    if args.message.is_some() && args.command.is_some() {
        return Err(usage("-m/--message cannot be used with a subcommand"));
    }
    if args.udp && args.size > MAX_DATAGRAM as u64 {
        return Err(usage(format!(
            "-s {}: a UDP datagram (over IPv4) holds at most {MAX_DATAGRAM} bytes",
            args.size
        )));
    }
    let transport = match args.udp {
        true => Transport::Udp {
            datagram_size: args.size as usize,
        },
        false => Transport::Tcp,
    };
    let (host, port) = args.endpoint.resolve().map_err(usage)?;
    let path = path_options(&args)?;
    let timeout = args.timeout;
    let mode = match (args.generate, args.command, args.message) {
        (Some(kind), _, _) => ClientMode::Generate(kind),
        (None, Some(Command::Ping(ping)), _) => {
            ping_mode(ping, args.udp, timeout, args.verbosity, &path)?
        }
        (None, Some(Command::Bench(bench)), _) => bench_mode(bench, args.udp, timeout)?,
        (None, Some(Command::Monitor(monitor)), _) => {
            monitor_mode(monitor, args.udp, timeout, args.verbosity, &path)?
        }
        (None, Some(Command::Merge(merge)), _) => ClientMode::Merge(MergeRequest {
            files: merge.files,
            report: ReportOptions {
                shown: match merge.json {
                    true => Shown::Json,
                    false => Shown::Summary,
                },
                exports: ExportFiles {
                    hgrm: merge.hgrm,
                    hlog: None,
                    plot: merge.plot,
                },
                objectives: merge.slo.map(|list| list.0).unwrap_or_default(),
            },
        }),
        (None, None, Some(text)) => ClientMode::Message(MessageOptions { text, timeout }),
        (None, None, None) => ClientMode::Session { timeout },
    };
    Ok(ClientRequest {
        host,
        port,
        connect_timeout: args.connect_timeout,
        path,
        verbosity: args.verbosity,
        transport,
        mode,
    })
}

/// What `--dscp` and the other path flags ask, checked against the mode and the system.
fn path_options(args: &Args) -> Result<PathOptions, clap::Error> {
    let given = &args.path;
    if given.dscp.is_some() || given.ecn.is_some() {
        if let Some(why) = crate::net::traffic_class_unsupported() {
            return Err(usage(format!(
                "--dscp and --ecn are not available on this system: {why}"
            )));
        }
    }
    let udp_anywhere = args.udp
        || match &args.command {
            Some(Command::Ping(ping)) => ping.udp,
            Some(Command::Bench(bench)) => bench.udp,
            Some(Command::Monitor(_)) => true,
            Some(Command::Merge(_)) | None => false,
        };
    if given.df && !udp_anywhere {
        return Err(usage(
            "--df applies to UDP datagrams (-u, or monitor's udp:// targets); TCP finds the \
             path MTU itself",
        ));
    }
    if given.ecn.is_some() && !udp_anywhere {
        return Err(usage(
            "--ecn applies to UDP datagrams (-u, or monitor's udp:// targets): TCP sets the ECN \
             bits itself, as it negotiates ECN",
        ));
    }
    Ok(PathOptions {
        dscp: given.dscp,
        ecn: given.ecn,
        ttl: given.ttl.map(|ttl| ttl as u8),
        fragmenting: match given.df {
            true => Fragmenting::Forbidden,
            false => Fragmenting::Allowed,
        },
        family: match (given.ipv4, given.ipv6) {
            (true, _) => Family::V4,
            (_, true) => Family::V6,
            _ => Family::Any,
        },
        source: given.source,
    })
}

/// `--timeout 0` with UDP measuring: a datagram may never come back, and the timeout is when it
/// counts lost, so a UDP run needs one.
fn needs_a_timeout(timeout: Limit) -> Result<(), clap::Error> {
    match timeout {
        Limit::Never => Err(usage(
            "--timeout 0 does not go with -u: a datagram may never come back, and the timeout \
             is when it is counted lost",
        )),
        Limit::After(_) => Ok(()),
    }
}

/// Checks `size` (the `-s` given) against what a message of `layout` holds.
fn sized(layout: Layout, size: u64) -> Result<usize, clap::Error> {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    layout
        .check_size(size)
        .map_err(|why| usage(format!("-s {size}: {why}")))?;
    Ok(size)
}

fn ping_mode(
    ping: PingArgs,
    udp: bool,
    timeout: Limit,
    verbosity: Verbosity,
    path: &PathOptions,
) -> Result<ClientMode, clap::Error> {
    // `soc_client -u ping` means `soc_client ping -u`.
    let udp = udp || ping.udp;
    if udp && ping.connect {
        return Err(usage(
            "--connect times TCP handshakes: it does not go with -u",
        ));
    }
    let exports = ExportFiles {
        hgrm: ping.exports.hgrm,
        hlog: None,
        plot: ping.exports.plot,
    };
    let intervals = exports.need_intervals();
    let probes = match (ping.connect, udp) {
        (true, _) => Probes::Connect(ConnectOptions {
            count: ping.count,
            interval: ping.interval,
            intervals,
        }),
        (false, true) => {
            needs_a_timeout(timeout)?;
            Probes::Udp(UdpPingOptions {
                count: ping.count,
                interval: ping.interval,
                size: sized(Layout::Timed, ping.size)?,
                timeout,
                intervals,
            })
        }
        (false, false) => Probes::Echo(PingOptions {
            count: ping.count,
            interval: ping.interval,
            size: sized(Layout::Stream, ping.size)?,
            timeout,
            intervals,
        }),
    };
    // `ping -q`, as ping(8)'s: the summary only (and, as everywhere, quiet logging).
    let shown = match (ping.json, verbosity.quiet) {
        (true, _) => Shown::Json,
        (false, true) => Shown::Summary,
        (false, false) => Shown::Everything,
    };
    let said_as = match &probes {
        Probes::Echo(_) => ("ping", "ping"),
        Probes::Udp(_) => ("udp-ping", "ping -u"),
        Probes::Connect(_) => ("connect", "ping --connect"),
    };
    let objectives = ping.slo.map(|list| list.0).unwrap_or_default();
    slo::check(&objectives, said_as.0, said_as.1).map_err(usage)?;
    Ok(ClientMode::Ping(PingRequest {
        probes,
        lines: ProbeLines {
            timestamps: ping.output.timestamps,
            ndjson: ping.output.ndjson,
            marks: path.marks() || verbosity.verbose > 0,
        },
        report: ReportOptions {
            shown,
            exports,
            objectives,
        },
    }))
}

fn monitor_mode(
    monitor: MonitorArgs,
    udp: bool,
    timeout: Limit,
    verbosity: Verbosity,
    path: &PathOptions,
) -> Result<ClientMode, clap::Error> {
    if udp {
        return Err(usage(
            "monitor takes no -u: write a UDP target as udp://HOST:PORT",
        ));
    }
    let Limit::After(timeout) = timeout else {
        return Err(usage(
            "--timeout 0 does not go with monitor: the timeout is when a probe counts lost",
        ));
    };
    let mut targets = Vec::new();
    for text in &monitor.targets {
        targets.push(TargetSpec::parse(text).map_err(usage)?);
    }
    if let Some(path) = &monitor.targets_file {
        let text = std::fs::read_to_string(path)
            .map_err(|err| usage(format!("could not read {}: {err}", path.display())))?;
        targets.extend(targets_in(path, &text).map_err(usage)?);
    }
    if targets.is_empty() {
        return Err(usage(
            "monitor needs a target: soc_client monitor HOST:PORT (or --targets FILE)",
        ));
    }
    if targets.iter().any(|target| target.proto == Proto::Udp) {
        sized(Layout::Timed, monitor.size)?;
    }
    let size = sized(Layout::Stream, monitor.size)?;
    Ok(ClientMode::Monitor(MonitorRequest {
        targets,
        options: MonitorOptions {
            interval: monitor.interval,
            timeout,
            size,
            down_after: monitor.down_after as u32,
            count: monitor.count,
            path: *path,
        },
        lines: ProbeLines {
            timestamps: monitor.output.timestamps,
            ndjson: monitor.output.ndjson,
            marks: path.marks() || verbosity.verbose > 0,
        },
        metrics: monitor.metrics,
        quiet: verbosity.quiet,
    }))
}

fn bench_mode(bench: BenchArgs, udp: bool, timeout: Limit) -> Result<ClientMode, clap::Error> {
    let exports = ExportFiles {
        hgrm: bench.exports.hgrm,
        hlog: bench.exports.hlog,
        plot: bench.exports.plot,
    };
    let intervals = exports.need_intervals();
    let udp = udp || bench.udp;
    if udp {
        if bench.rate.is_none() {
            return Err(usage(
                "bench -u needs --rate RATE: closed-loop UDP makes no sense, as one lost datagram \
                 would stall its socket for the whole --timeout",
            ));
        }
        needs_a_timeout(timeout)?;
    }
    let flows = bench.connections as usize;
    let workload = match (bench.stream, bench.rate) {
        (Some(bytes), _) => Workload::Stream(StreamOptions { bytes, timeout }),
        (None, Some(rate)) => {
            let layout = match udp {
                true => Layout::Numbered,
                false => Layout::Stream,
            };
            // Without -t, as many threads as the rate needs here; the report says how many.
            let threads = match bench.threads {
                Some(threads) => threads as usize,
                None => open_loop::threads_for(rate, flows),
            };
            Workload::Rate {
                options: RateOptions {
                    rate,
                    flows,
                    size: sized(layout, bench.size)?,
                    duration: bench.duration,
                    warmup: bench.warmup,
                    timeout,
                    threads,
                    intervals,
                },
                udp,
            }
        }
        (None, None) => Workload::PingPong(PingPongOptions {
            connections: flows,
            size: sized(Layout::Stream, bench.size)?,
            duration: bench.duration,
            warmup: bench.warmup,
            timeout,
            threads: bench.threads.unwrap_or(1) as usize,
            intervals,
        }),
    };
    let said_as = match &workload {
        Workload::PingPong(_) => ("ping-pong", "bench"),
        Workload::Stream(_) => ("stream", "bench --stream"),
        Workload::Rate { udp: false, .. } => ("rate", "bench --rate"),
        Workload::Rate { udp: true, .. } => ("udp-rate", "bench -u --rate"),
    };
    let objectives = bench.slo.map(|list| list.0).unwrap_or_default();
    slo::check(&objectives, said_as.0, said_as.1).map_err(usage)?;
    let shown = match bench.json {
        true => Shown::Json,
        false => Shown::Summary,
    };
    Ok(ClientMode::Bench(BenchRequest {
        workload,
        report: ReportOptions {
            shown,
            exports,
            objectives,
        },
    }))
}

#[cfg(test)]
mod tests;
