//! Everything that differs between Linux, macOS and Windows, behind one portable interface.
//!
//! The rest of the crate has no `cfg` and no `unsafe`: what a system does its own way (the
//! open-file limit, what an `accept()` error code means, how a listening socket guards its port,
//! how a user asks a program to stop) is decided here, in [`unix`](self) or `windows.rs`, and
//! nowhere else. A reader finds every platform difference by opening this folder.

use std::io;

pub(crate) mod datagram;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// What an `accept()` error means for the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptErrorClass {
    /// This one connection failed before we got it (aborted, reset while queued): skip it.
    Connection,
    /// The process or system is out of descriptors, buffers or memory: back off and retry.
    Resources,
    /// Anything else: log, back off, retry; the accept loop never ends on an error.
    Other,
}

/// Sorts an `accept()` error by its raw OS code, which each system numbers its own way.
pub(crate) fn classify_accept_error(err: &io::Error) -> AcceptErrorClass {
    match err.raw_os_error() {
        Some(code) => imp::classify_accept_error(code),
        None => AcceptErrorClass::Other,
    }
}

/// The per-process limit on open files (and so on sockets), after [`raise_open_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenFileLimit {
    /// At most this many descriptors (Unix's soft `RLIMIT_NOFILE`).
    #[cfg_attr(windows, allow(dead_code))]
    Limited(u64),
    /// The system has no such per-process limit to raise (Windows: sockets are bounded by memory).
    #[cfg_attr(not(windows), allow(dead_code))]
    NotApplicable,
}

/// Descriptors a process needs besides its sockets: standard streams, listeners, signal pipes,
/// event loops.
const DESCRIPTOR_MARGIN: u64 = 64;

impl OpenFileLimit {
    /// How many sockets the limit leaves room for, beside what the process needs anyway; `None`
    /// when there is no such limit.
    pub(crate) fn sockets(self) -> Option<usize> {
        match self {
            OpenFileLimit::Limited(limit) => {
                Some(usize::try_from(limit.saturating_sub(DESCRIPTOR_MARGIN)).unwrap_or(usize::MAX))
            }
            OpenFileLimit::NotApplicable => None,
        }
    }
}

/// Raises this process's soft limit on open files towards what `sockets` connections need (one
/// descriptor each plus a margin), never above the hard limit; returns the limit now in force.
///
/// Many Unix systems start processes with a soft limit of 1024 (macOS: 256), below the server's
/// default `--max-clients` and below what a large `bench -c` opens; like most servers and load
/// generators, soc asks for what it needs rather than failing at the thousandth socket.
pub(crate) fn raise_open_file_limit(sockets: usize) -> io::Result<OpenFileLimit> {
    imp::raise_open_file_limit(sockets)
}

/// Makes a listening socket's port its own, on each system's terms, before `bind()`.
///
/// Unix: `SO_REUSEADDR`, so that a restarted server binds again while old connections sit in
/// TIME_WAIT (it never lets two servers share a port there). Windows rebinds without it, and
/// there `SO_REUSEADDR` would let a second program take a port in use; `SO_EXCLUSIVEADDRUSE`
/// is its guard against exactly that.
pub(crate) fn claim_listening_port(socket: &socket2::Socket) -> io::Result<()> {
    imp::claim_listening_port(socket)
}

/// Makes a UDP socket's port its own, on each system's terms, before `bind()`.
///
/// Unix: nothing. `SO_REUSEADDR` would be wrong here: on a UDP socket it lets a second socket bind
/// the same address and port and take part of the datagrams, and UDP has no TIME_WAIT for it to
/// help with. Windows: `SO_EXCLUSIVEADDRUSE`, as for TCP, so that no other program can bind it.
pub(crate) fn claim_datagram_port(socket: &socket2::Socket) -> io::Result<()> {
    imp::claim_datagram_port(socket)
}

/// Keeps a datagram that could not be delivered from failing the next receive.
///
/// When a datagram is sent to a port where nothing listens, the answer is an ICMP "port
/// unreachable". Linux and macOS report it only on a connected socket. Windows reports it on
/// any: the next `recv_from` fails with WSAECONNRESET, so one client that went away would
/// interrupt the echo of every other; `SIO_UDP_CONNRESET` switched off stops that.
pub(crate) fn ignore_port_unreachable(socket: &socket2::Socket) -> io::Result<()> {
    imp::ignore_port_unreachable(socket)
}

/// The raw error a non-blocking connect returns while its handshake goes on, where it is not
/// `WouldBlock` (Unix's EINPROGRESS).
pub(crate) fn connect_in_progress() -> Option<i32> {
    #[cfg(unix)]
    return Some(libc::EINPROGRESS);
    #[cfg(windows)]
    return None;
}

/// A socket a service manager handed over (systemd's socket activation): a listening stream
/// socket, or a datagram socket.
#[derive(Debug)]
#[cfg_attr(windows, allow(dead_code))]
pub(crate) enum Handed {
    Stream(std::net::TcpListener),
    Datagram(std::net::UdpSocket),
}

/// The sockets systemd handed this process (`LISTEN_PID`, `LISTEN_FDS`: sd_listen_fds(3)), if it
/// did; the variables are cleared once read. Windows: never.
pub(crate) fn handed_sockets() -> io::Result<Option<Vec<Handed>>> {
    imp::handed_sockets()
}

/// Standard input and output as the two ways of one connection an inetd-style super-server
/// handed over. Windows: unsupported.
pub(crate) fn inetd_connection() -> io::Result<HandedConnection> {
    imp::inetd_connection()
}

/// One connection on standard input and output (inetd mode).
pub(crate) struct HandedConnection {
    pub(crate) reader: std::fs::File,
    /// Owns standard output, so that dropping it closes it.
    pub(crate) writer: std::fs::File,
    /// The peer's address, when standard input is a socket.
    pub(crate) peer: Option<std::net::SocketAddr>,
}

impl HandedConnection {
    /// Sets the idle timeout on both ways, where they are a socket (a pipe has none to set).
    pub(crate) fn set_idle_timeout(&self, idle: Option<std::time::Duration>) {
        imp::set_handed_timeouts(self, idle);
    }

    /// Ends the echo: a half-close where standard output is a socket, so that the peer sees the
    /// end after the last byte; a close otherwise.
    pub(crate) fn end(self) {
        imp::end_handed_output(self.writer);
    }
}

/// Whether standard error is the connection standard input is (inetd hands the socket over as
/// all three descriptors), so that anything logged would reach the client.
pub(crate) fn stderr_is_the_connection() -> bool {
    imp::stderr_is_the_connection()
}

/// The system's load average over the last minute (runnable threads, and on Linux those in
/// uninterruptible waits), where the system keeps one: Linux and macOS do, Windows does not.
pub(crate) fn load_average() -> Option<f64> {
    imp::load_average()
}

/// The most bytes a terminal passes on as one typed line, where the system says: Linux's
/// terminal driver keeps 4095 and the newline, and drops what is typed beyond, unseen by the
/// program reading it, so a session says so when a line is that long.
pub(crate) const TERMINAL_LINE_LIMIT: Option<usize> = imp::TERMINAL_LINE_LIMIT;

/// Throws away what was typed on the terminal and not read yet, when standard input is one.
///
/// When an interactive session ends because the server went away, the user may be halfway
/// through a line. Left in the terminal's input queue it would go to the shell, which would read
/// it as a command (and run it, had Enter been pressed). Unix: `tcflush(TCIFLUSH)`; Windows:
/// `FlushConsoleInputBuffer`. Standard input that is not a terminal is left alone.
pub(crate) fn discard_pending_input() {
    imp::discard_pending_input()
}

/// Ends a connection from another thread: the peer sees end of stream, and a thread blocked
/// reading or writing on it returns at once, with end of stream or an error.
///
/// Unix: `shutdown()` of both directions does all of that. Windows: `shutdown()` fails any call
/// made from then on but leaves one already blocked waiting (a `send()` to a client that does
/// not read, for as long as the write timeout); cancelling the socket's pending I/O
/// (`CancelIoEx`) ends that one too.
pub(crate) fn interrupt(stream: &std::net::TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Both);
    imp::cancel_blocked_io(stream);
}

/// A wake-up for an event loop at a time finer than a poll's timeout can say: epoll's is in
/// milliseconds, so a schedule of one message every 100 µs would leave in 1 ms bursts, and the
/// generator's own delay would be added to every latency it reports. An open-loop load generator
/// keeps its schedule with one of these.
///
/// Linux: a timerfd (an hrtimer without timer slack) registered with the poll. Elsewhere the
/// poll's own timeout, which is precise on kqueue (macOS, the BSDs); where it is not (Windows,
/// in milliseconds) the last stretch before the time is polled without waiting.
pub(crate) struct Alarm(imp::Alarm);

impl Alarm {
    /// An alarm that wakes the poll of `registry` with an event for `token`.
    pub(crate) fn new(registry: &mio::Registry, token: mio::Token) -> io::Result<Alarm> {
        imp::Alarm::new(registry, token).map(Alarm)
    }

    /// Sets the alarm for `after` from now and returns the timeout to poll with. An event for the
    /// alarm's token may then come, and must be passed to [`Alarm::clear`].
    pub(crate) fn set(&mut self, after: std::time::Duration) -> std::time::Duration {
        self.0.set(after)
    }

    /// Consumes the alarm's event.
    pub(crate) fn clear(&mut self) {
        self.0.clear()
    }
}

/// A user's request to stop, as each system delivers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C: SIGINT on Unix, `CTRL_C_EVENT` on Windows.
    Interrupt,
    /// SIGTERM (Unix): `kill PID`, a service manager stopping the program.
    Terminate,
    /// SIGHUP (Unix): the terminal closed, an ssh session dropped.
    HangUp,
    /// Ctrl-Break (Windows), also what `taskkill` without `/F` and some consoles send.
    Break,
    /// The console window was closed (Windows): the system ends the process a few seconds later.
    ConsoleClosed,
}

impl StopSignal {
    /// The name users know it by, for the log.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt if cfg!(windows) => "Ctrl-C",
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::HangUp => "SIGHUP",
            StopSignal::Break => "Ctrl-Break",
            StopSignal::ConsoleClosed => "console close",
        }
    }

    /// The exit code of a process that this request ended at once (the second request): what the
    /// shell reports for a program killed that way (Unix: 128 + the signal number; Windows:
    /// `STATUS_CONTROL_C_EXIT`).
    pub fn exit_code(self) -> i32 {
        imp::exit_code(self)
    }
}

/// Calls `forward` for every stop request the process receives from now on (Ctrl-C everywhere;
/// SIGTERM on Unix; Ctrl-Break and the console's close on Windows), on a thread where it may do
/// anything: it is not a signal handler.
pub(crate) fn on_stop_signals(
    forward: impl Fn(StopSignal) + Send + Sync + 'static,
) -> io::Result<()> {
    imp::on_stop_signals(Box::new(forward))
}
