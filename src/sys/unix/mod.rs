//! Linux, macOS and the BSDs: `RLIMIT_NOFILE`, errno values, `SO_REUSEADDR`, SIGINT, SIGTERM and
//! SIGHUP.

use std::io;
use std::thread;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{AcceptErrorClass, OpenFileLimit, StopSignal};

mod datagram;
mod service;

pub(super) use datagram::{
    is_too_big, path_mtu, receive, report_destination, report_marks, send_from, set_marking,
    TRAFFIC_CLASS_UNSUPPORTED,
};

pub(super) use service::{
    end_handed_output, handed_sockets, inetd_connection, set_handed_timeouts,
    stderr_is_the_connection,
};

#[cfg(target_os = "linux")]
pub(super) use timerfd::Alarm;

#[cfg(not(target_os = "linux"))]
pub(super) use kqueue_timeout::Alarm;

/// Linux: a timerfd, registered with the poll, fires at the nanosecond.
#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use mio::unix::SourceFd;
    use mio::{Interest, Registry, Token};

    pub(in crate::sys) struct Alarm {
        fd: OwnedFd,
    }

    impl Alarm {
        pub(in crate::sys) fn new(registry: &Registry, token: Token) -> io::Result<Alarm> {
            // SAFETY: a plain system call; its result is checked before use.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
            Ok(Alarm { fd })
        }

        pub(in crate::sys) fn set(&mut self, after: Duration) -> Duration {
            if after.is_zero() {
                return Duration::ZERO;
            }
            // At least 1 ns: a zero value would disarm the timer.
            let nanos = after.as_nanos().clamp(1, 3_600_000_000_000);
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: (nanos / 1_000_000_000) as libc::time_t,
                    tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
                },
            };
            // SAFETY: a valid descriptor and a fully initialised itimerspec; no old value asked.
            let rc = unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            if rc != 0 {
                // No timer: the poll's own timeout, rounded up to a millisecond, still wakes us.
                return after;
            }
            // The timer wakes the poll at the time; the poll's own timeout (rounded up to a
            // millisecond) is only the fallback.
            after
        }

        pub(in crate::sys) fn clear(&mut self) {
            let mut expiries = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a local buffer; EAGAIN (nothing to read) is fine.
            let _ = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    expiries.as_mut_ptr().cast(),
                    expiries.len(),
                )
            };
        }
    }
}

/// macOS and the BSDs: kqueue's timeout is a timespec, precise to the nanosecond, so the poll's
/// own timeout is the alarm.
#[cfg(not(target_os = "linux"))]
mod kqueue_timeout {
    use std::io;
    use std::time::Duration;

    use mio::{Registry, Token};

    pub(in crate::sys) struct Alarm;

    impl Alarm {
        pub(in crate::sys) fn new(_registry: &Registry, _token: Token) -> io::Result<Alarm> {
            Ok(Alarm)
        }

        pub(in crate::sys) fn set(&mut self, after: Duration) -> Duration {
            after
        }

        pub(in crate::sys) fn clear(&mut self) {}
    }
}

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
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct, which `limit` is.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = (sockets as u64).saturating_add(super::DESCRIPTOR_MARGIN);
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

pub(super) fn load_average() -> Option<f64> {
    let mut averages = [0.0f64; 1];
    // SAFETY: getloadavg writes at most `nelem` (1) doubles into the array it is given.
    let written = unsafe { libc::getloadavg(averages.as_mut_ptr(), 1) };
    (written == 1).then_some(averages[0])
}

#[cfg(target_os = "linux")]
pub(super) const TERMINAL_LINE_LIMIT: Option<usize> = Some(4095);
#[cfg(not(target_os = "linux"))]
pub(super) const TERMINAL_LINE_LIMIT: Option<usize> = None;

pub(super) fn discard_pending_input() {
    // SAFETY: isatty and tcflush on descriptor 0 touch no memory; a failure changes nothing.
    unsafe {
        if libc::isatty(libc::STDIN_FILENO) == 1 {
            libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
        }
    }
}

pub(super) fn claim_listening_port(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_address(true)
}

pub(super) fn claim_datagram_port(_socket: &socket2::Socket) -> io::Result<()> {
    Ok(())
}

pub(super) fn ignore_port_unreachable(_socket: &socket2::Socket) -> io::Result<()> {
    // An unconnected socket hears nothing of them here.
    Ok(())
}

pub(super) fn cancel_blocked_io(_stream: &std::net::TcpStream) {
    // Nothing more: shutdown() has already woken every blocked call.
}

pub(super) fn exit_code(signal: StopSignal) -> i32 {
    128 + match signal {
        StopSignal::Terminate => SIGTERM,
        StopSignal::HangUp => SIGHUP,
        StopSignal::Interrupt | StopSignal::Break | StopSignal::ConsoleClosed => SIGINT,
    }
}

pub(super) fn on_stop_signals(forward: Box<dyn Fn(StopSignal) + Send + Sync>) -> io::Result<()> {
    // signal-hook's handler only writes to a pipe; this thread reads it and calls `forward`,
    // so `forward` may take locks and allocate, which a signal handler may not.
    // SIGHUP too: a closed terminal or a dropped ssh session is a request to stop, and the
    // default action would end the process without its summary.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                forward(match signal {
                    SIGTERM => StopSignal::Terminate,
                    SIGHUP => StopSignal::HangUp,
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
        assert_eq!(exit_code(StopSignal::HangUp), 129);
    }
}
