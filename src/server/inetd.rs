//! `soc_server --inetd`: one connection a super-server accepted (inetd's and xinetd's `nowait`,
//! tcpsvd, systemd's `Accept=yes`, socat's `EXEC:`), on standard input and output, echoed by the
//! one echo loop until the client is done; then the process ends.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;
use log::{info, warn};

use super::ServerConfig;
use crate::echo::{echo_until_eof, EchoBuffer, EchoEnd};
use crate::human::bytes;
use crate::limits::Hinted;

/// Whether standard error is the connection itself (inetd and xinetd hand the socket over as
/// standard input, output and error): a log line would then reach the client in the middle of
/// its echo, so soc_server logs nothing.
pub fn stderr_is_the_connection() -> bool {
    crate::sys::stderr_is_the_connection()
}

/// Echoes standard input to standard output until its end, byte for byte, then ends standard
/// output (a half-close on a socket, a close otherwise), so that the client sees its last byte
/// and the end. The idle timeout applies where standard input is a socket (inetd, tcpsvd: a
/// pipe has no timeout to set). Returns the bytes echoed.
pub fn inetd(config: &ServerConfig) -> anyhow::Result<u64> {
    let connection =
        crate::sys::inetd_connection().context("could not serve standard input and output")?;
    let peer = connection.peer;
    let named = peer.unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let who = peer.map_or("standard input".to_string(), |peer| peer.to_string());
    if let Some(peer) = peer.filter(|peer| !config.access.permits(peer.ip())) {
        warn!("{peer} denied: its source is not allowed");
        return Ok(0);
    }
    connection.set_idle_timeout(config.idle_timeout.as_option());
    info!("{who} connected");
    let mut buffer = EchoBuffer::new();
    let report = echo_until_eof(
        &connection.reader,
        &connection.writer,
        named,
        &mut buffer,
        |_| {},
    );
    // The end of the echo: the peer sees it after the last byte.
    connection.end();
    let how = match report.end {
        EchoEnd::PeerClosed => "disconnected".to_string(),
        EchoEnd::IdleTimeout => Hinted::new(format!(
            "disconnected after {} idle ({{idle_timeout}})",
            config.idle_timeout
        ))
        .render(config.names),
        EchoEnd::Failed(err) => format!("connection failed: {err}"),
    };
    info!("{who} {how}: {} echoed", bytes(report.bytes));
    Ok(report.bytes)
}
