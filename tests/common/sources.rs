//! Clients from a chosen loopback source (127.0.0.2, 127.0.0.3, ...; where the system has only
//! 127.0.0.1, as macOS, the caller is told and skips that part), and what they see of a server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};

use super::STEP;

/// A TCP connection to `server` from `source`, or `None` where this system cannot bind it.
pub fn connect_from(source: &str, server: SocketAddr) -> Option<TcpStream> {
    let from: SocketAddr = SocketAddr::new(source.parse().unwrap(), 0);
    let domain = socket2::Domain::for_address(from);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None).unwrap();
    if let Err(err) = socket.bind(&from.into()) {
        eprintln!("skipped the part from {source}: {err}");
        return None;
    }
    // As soc's own connect: a server that closes at once (a denied source) can hang up before
    // the wait looks, which socket2's WSAPoll under Wine reads as a failed connect with no
    // error; a socket with a peer was connected.
    socket
        .connect_timeout(&server.into(), STEP)
        .or_else(|err| socket.peer_addr().map(drop).map_err(|_| err))
        .unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(STEP)).unwrap();
    Some(stream)
}

/// A UDP socket on `source` with a read deadline, or `None` (said) where this system cannot
/// bind it, or sends its datagrams from another address.
pub fn datagrams_from(source: &str) -> Option<UdpSocket> {
    let from: SocketAddr = SocketAddr::new(source.parse().unwrap(), 0);
    let socket = match UdpSocket::bind(from) {
        Ok(socket) => socket,
        Err(err) => {
            eprintln!("skipped the part from {source}: {err}");
            return None;
        }
    };
    if !keeps_its_source(&socket) {
        eprintln!(
            "skipped the part from {source}: this system sends its datagrams from another \
             address (Wine sends every UDP datagram on loopback from 127.0.0.1)"
        );
        return None;
    }
    socket.set_read_timeout(Some(STEP)).unwrap();
    Some(socket)
}

/// Whether a datagram from `socket` arrives from the address it is bound to.
fn keeps_its_source(socket: &UdpSocket) -> bool {
    let local = socket.local_addr().unwrap();
    let receiver = UdpSocket::bind(SocketAddr::new(local.ip(), 0)).unwrap();
    receiver.set_read_timeout(Some(STEP)).unwrap();
    socket
        .send_to(b"from?", receiver.local_addr().unwrap())
        .unwrap();
    let mut buffer = [0u8; 8];
    let (_, from) = receiver
        .recv_from(&mut buffer)
        .expect("a datagram on loopback");
    from == local
}

/// Whether this system sends UDP from the loopback address asked (false under Wine), so that a
/// test of where datagrams come from can tell anything.
pub fn udp_sources_kept() -> bool {
    datagrams_from("127.0.0.2").is_some()
}

/// One line out and back; panics if the echo does not come.
pub fn round_trip(stream: &TcpStream) {
    (&*stream).write_all(b"ping\n").unwrap();
    let mut echo = [0u8; 5];
    (&*stream).read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ping\n");
}

/// True if the server closed the connection without a byte (within the read timeout).
pub fn turned_away(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    let _ = (&*stream).write_all(b"x");
    match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => super::is_disconnect(&err),
    }
}
