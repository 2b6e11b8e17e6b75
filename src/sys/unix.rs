//! Linux, macOS and the BSDs: `RLIMIT_NOFILE`, errno values, `SO_REUSEADDR`, SIGINT and SIGTERM.

use std::io;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{AcceptErrorClass, OpenFileLimit, StopSignal};

pub(super) fn classify_accept_error(code: i32) -> AcceptErrorClass {
    match code {
        libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => AcceptErrorClass::Resources,
        // Linux passes a queued connection's network errors to accept() (accept(2), "Error
        // handling"); the BSDs report ECONNABORTED. Each is about that one connection.
        libc::ECONNABORTED
        | libc::ECONNRESET
        | libc::EPROTO
        | libc::EPERM
        | libc::EINTR
        | libc::EAGAIN
        | libc::ENETDOWN
        | libc::ENOPROTOOPT
        | libc::EHOSTDOWN
        | libc::EHOSTUNREACH
        | libc::EOPNOTSUPP
        | libc::ENETUNREACH => AcceptErrorClass::Connection,
        #[cfg(target_os = "linux")]
        libc::ENONET => AcceptErrorClass::Connection,
        _ => AcceptErrorClass::Other,
    }
}

pub(super) fn raise_open_file_limit(sockets: usize) -> io::Result<OpenFileLimit> {
    /// Descriptors beyond the sockets: standard streams, the listener, signal pipes, event loops.
    const MARGIN: u64 = 64;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct, which `limit` is.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = (sockets as u64).saturating_add(MARGIN);
    let soft = limit.rlim_cur;
    if soft >= wanted {
        return Ok(OpenFileLimit::Limited(soft));
    }
    // macOS reports an unlimited hard limit but refuses a soft one above OPEN_MAX (10240);
    // asking for no more than needed stays under it for any sensible `--max-clients`.
    let raised = wanted.min(limit.rlim_max);
    limit.rlim_cur = raised;
    // SAFETY: setrlimit reads one rlimit struct, which `limit` is.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    log::debug!("open-file limit raised from {soft} to {raised}");
    Ok(OpenFileLimit::Limited(raised))
}

pub(super) fn claim_listening_port(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_address(true)
}

pub(super) fn cancel_blocked_io(_stream: &std::net::TcpStream) {
    // Nothing more: shutdown() has already woken every blocked call.
}

pub(super) fn exit_code(signal: StopSignal) -> i32 {
    128 + match signal {
        StopSignal::Terminate => SIGTERM,
        StopSignal::Interrupt | StopSignal::Break | StopSignal::ConsoleClosed => SIGINT,
    }
}

pub(super) fn on_stop_signals(forward: Box<dyn Fn(StopSignal) + Send + Sync>) -> io::Result<()> {
    // signal-hook's handler only writes to a pipe; this thread reads it and calls `forward`,
    // so `forward` may take locks and allocate, which a signal handler may not.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                forward(match signal {
                    SIGTERM => StopSignal::Terminate,
                    _ => StopSignal::Interrupt,
                });
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_sorted_by_errno() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert_eq!(classify_accept_error(code), AcceptErrorClass::Resources);
        }
        for code in [
            libc::ECONNABORTED,
            libc::ECONNRESET,
            libc::EINTR,
            libc::EPROTO,
        ] {
            assert_eq!(classify_accept_error(code), AcceptErrorClass::Connection);
        }
        assert_eq!(classify_accept_error(libc::EBADF), AcceptErrorClass::Other);
    }

    #[test]
    fn a_second_signal_exits_with_the_shells_code() {
        assert_eq!(exit_code(StopSignal::Interrupt), 130);
        assert_eq!(exit_code(StopSignal::Terminate), 143);
    }
}
