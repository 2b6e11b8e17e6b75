//! Running under a service manager: sockets handed over by systemd's socket activation
//! (sd_listen_fds(3)), and a connection on standard input and output under inetd, xinetd or
//! tcpsvd.

use std::env;
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, RawFd};

use socket2::{SockRef, Socket};

use std::time::Duration;

use super::super::{Handed, HandedConnection};

/// The first descriptor systemd hands over (after standard input, output and error).
const FIRST_HANDED: RawFd = 3;

/// The sockets systemd handed this process, if it did: `LISTEN_PID` names this process and
/// `LISTEN_FDS` says how many follow descriptor 2. The variables are cleared once read, so that
/// no child takes the sockets for its own.
pub(in crate::sys) fn handed_sockets() -> io::Result<Option<Vec<Handed>>> {
    let ours = env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        == Some(std::process::id());
    if !ours {
        return Ok(None);
    }
    let count = env::var("LISTEN_FDS")
        .ok()
        .and_then(|count| count.trim().parse::<RawFd>().ok())
        .filter(|count| *count > 0)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "LISTEN_PID names this process, but LISTEN_FDS is not a number of sockets",
            )
        })?;
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        env::remove_var(name);
    }
    let mut handed = Vec::with_capacity(count as usize);
    for fd in FIRST_HANDED..FIRST_HANDED + count {
        // SAFETY: systemd's protocol gives this process descriptors 3..3+LISTEN_FDS, open and
        // its own; each is taken once, here, and not used elsewhere.
        let socket = unsafe { Socket::from_raw_fd(fd) };
        let kind = socket.r#type().map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("descriptor {fd}, handed over, is not a socket: {err}"),
            )
        })?;
        if socket
            .local_addr()
            .ok()
            .and_then(|addr| addr.as_socket())
            .is_none()
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("descriptor {fd}, handed over, is not an IPv4 or IPv6 socket"),
            ));
        }
        // Not inherited by anything this process starts.
        // SAFETY: fcntl on a descriptor this process owns (taken above); no memory is involved.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        handed.push(match kind {
            socket2::Type::STREAM => Handed::Stream(socket.into()),
            socket2::Type::DGRAM => Handed::Datagram(socket.into()),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "descriptor {fd}, handed over, is neither a stream nor a datagram socket"
                    ),
                ))
            }
        });
    }
    Ok(Some(handed))
}

/// Standard input and output as one connection's two ways, and the peer when they are a socket.
pub(in crate::sys) fn inetd_connection() -> io::Result<HandedConnection> {
    // SAFETY: descriptors 0 and 1 are open for the life of the process; a duplicate of 0 is a
    // new descriptor this process owns, and descriptor 1 is taken over here and nowhere else
    // (soc_server writes nothing to standard output in inetd mode).
    let (reader, writer) = unsafe {
        let input = libc::dup(libc::STDIN_FILENO);
        if input < 0 {
            return Err(io::Error::last_os_error());
        }
        (
            File::from_raw_fd(input),
            File::from_raw_fd(libc::STDOUT_FILENO),
        )
    };
    let peer = SockRef::from(&reader)
        .peer_addr()
        .ok()
        .and_then(|addr| addr.as_socket());
    Ok(HandedConnection {
        reader,
        writer,
        peer,
    })
}

pub(in crate::sys) fn set_handed_timeouts(connection: &HandedConnection, idle: Option<Duration>) {
    // Errors only where they are not sockets, which have no timeouts.
    let _ = SockRef::from(&connection.reader).set_read_timeout(idle);
    let _ = SockRef::from(&connection.writer).set_write_timeout(idle);
}

pub(in crate::sys) fn end_handed_output(writer: File) {
    // A pipe or file cannot be half-closed: dropping it closes it.
    let _ = SockRef::from(&writer).shutdown(std::net::Shutdown::Write);
}

/// Whether standard error is the connection standard input is (inetd and xinetd hand the socket
/// over as all three): then a log line would reach the client, in the middle of its echo.
pub(in crate::sys) fn stderr_is_the_connection() -> bool {
    let identity = |fd: RawFd| {
        // SAFETY: fstat writes into the zeroed struct it is given and reads nothing else; a
        // closed descriptor is an error, checked.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        (unsafe { libc::fstat(fd, &mut stat) } == 0).then_some((stat.st_dev, stat.st_ino))
    };
    match (identity(libc::STDIN_FILENO), identity(libc::STDERR_FILENO)) {
        (Some(input), Some(error)) => input == error,
        _ => false,
    }
}
