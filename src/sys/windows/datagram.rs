//! Windows: IP_PKTINFO and IPV6_PKTINFO through WSARecvMsg (an extension function, looked up
//! once) and WSASendMsg, so that a server on a wildcard address answers from the address asked;
//! the TTL and don't-fragment options. The traffic class is not set: Windows ignores IP_TOS
//! unless a QoS policy allows it, so `--dscp` and `--ecn` are refused here rather than ignored.
//! Reading the class and hop limit of what arrives (IP_RECVTOS, IP_HOPLIMIT and their IPv6
//! names) is asked for, and reported where the system gives it.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::windows::io::AsRawSocket;
use std::ptr;
use std::sync::OnceLock;

use socket2::{SockAddr, SockRef};
use windows_sys::Win32::Networking::WinSock::{
    setsockopt, WSAIoctl, WSASendMsg, CMSGHDR, IN6_PKTINFO, IN_PKTINFO, IPPROTO_IP, IPPROTO_IPV6,
    IPV6_DONTFRAG, IPV6_HOPLIMIT, IPV6_PKTINFO, IPV6_RECVTCLASS, IPV6_TCLASS, IPV6_UNICAST_HOPS,
    IP_DONTFRAGMENT, IP_HOPLIMIT, IP_PKTINFO, IP_RECVTOS, IP_TOS, IP_TTL, LPFN_WSARECVMSG,
    SIO_GET_EXTENSION_FUNCTION_POINTER, SOCKADDR, SOCKET, WSABUF, WSAEMSGSIZE, WSAID_WSARECVMSG,
    WSAMSG,
};

use super::super::datagram::{Arrival, Destination, Marking, Reported};

/// Room for every ancillary message asked for, with alignment.
const CONTROL_WORDS: usize = 32;

/// Where a message's data starts, and how far apart messages are: Winsock aligns both to a
/// pointer's size (WSA_CMSGDATA_ALIGN, WSA_CMSGHDR_ALIGN).
fn align(len: usize) -> usize {
    let to = size_of::<usize>();
    (len + to - 1) & !(to - 1)
}

fn raw(socket: &SockRef<'_>) -> SOCKET {
    socket.as_raw_socket() as SOCKET
}

fn set_int(socket: &SockRef<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: setsockopt reads one int from a valid pointer; the handle is the caller's.
    let rc = unsafe {
        setsockopt(
            raw(socket),
            level,
            name,
            ptr::from_ref(&value).cast(),
            size_of::<i32>() as i32,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

pub(in crate::sys) fn report_destination(socket: SockRef<'_>, v6: bool) -> io::Result<()> {
    if v6 {
        set_int(&socket, IPPROTO_IPV6, IPV6_PKTINFO, 1)?;
        let _ = set_int(&socket, IPPROTO_IP, IP_PKTINFO, 1);
        Ok(())
    } else {
        set_int(&socket, IPPROTO_IP, IP_PKTINFO, 1)
    }
}

pub(in crate::sys) fn report_marks(socket: SockRef<'_>, v6: bool) -> Reported {
    let v4 = Reported {
        tos: set_int(&socket, IPPROTO_IP, IP_RECVTOS, 1).is_ok(),
        ttl: set_int(&socket, IPPROTO_IP, IP_HOPLIMIT, 1).is_ok(),
    };
    match v6 {
        false => v4,
        true => Reported {
            tos: set_int(&socket, IPPROTO_IPV6, IPV6_RECVTCLASS, 1).is_ok(),
            ttl: set_int(&socket, IPPROTO_IPV6, IPV6_HOPLIMIT, 1).is_ok(),
        },
    }
}

/// WSARecvMsg, which Winsock hands out by a GUID rather than exporting.
fn recv_msg(socket: SOCKET) -> io::Result<LPFN_WSARECVMSG> {
    static FOUND: OnceLock<LPFN_WSARECVMSG> = OnceLock::new();
    if let Some(found) = FOUND.get() {
        return Ok(*found);
    }
    let guid = WSAID_WSARECVMSG;
    let mut function: LPFN_WSARECVMSG = None;
    let mut returned = 0u32;
    // SAFETY: WSAIoctl reads the GUID and writes one function pointer into `function`, both
    // locals sized as given; the call is synchronous.
    let rc = unsafe {
        WSAIoctl(
            socket,
            SIO_GET_EXTENSION_FUNCTION_POINTER,
            ptr::from_ref(&guid).cast(),
            size_of_val(&guid) as u32,
            ptr::from_mut(&mut function).cast(),
            size_of::<LPFN_WSARECVMSG>() as u32,
            &mut returned,
            ptr::null_mut(),
            None,
        )
    };
    if rc != 0 || function.is_none() {
        return Err(io::Error::last_os_error());
    }
    Ok(*FOUND.get_or_init(|| function))
}

pub(in crate::sys) fn receive(
    socket: SockRef<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Arrival)> {
    let handle = raw(&socket);
    let Some(recv_msg) = recv_msg(handle)? else {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "no WSARecvMsg"));
    };
    let mut control = [0u64; CONTROL_WORDS];
    // SAFETY: every pointer in the header points into a local (or the storage try_init lends)
    // that outlives the call, with its length; the call is synchronous.
    let ((len, arrival), from) = unsafe {
        SockAddr::try_init(|storage, name_len| {
            let mut data = WSABUF {
                len: buf.len() as u32,
                buf: buf.as_mut_ptr(),
            };
            let mut msg = WSAMSG {
                name: storage.cast::<SOCKADDR>(),
                namelen: *name_len as i32,
                lpBuffers: &mut data,
                dwBufferCount: 1,
                Control: WSABUF {
                    len: size_of::<[u64; CONTROL_WORDS]>() as u32,
                    buf: control.as_mut_ptr().cast(),
                },
                dwFlags: 0,
            };
            let mut received = 0u32;
            if recv_msg(handle, &mut msg, &mut received, ptr::null_mut(), None) != 0 {
                return Err(io::Error::last_os_error());
            }
            *name_len = msg.namelen as _;
            Ok((received as usize, arrival_of(&msg)))
        })?
    };
    let from = match from.as_socket() {
        Some(from) => from,
        None => socket
            .peer_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP sender"))?,
    };
    Ok((len, from, arrival))
}

/// Reads the ancillary messages of a received header.
///
/// # Safety
/// `msg` is a header WSARecvMsg filled in, whose control buffer is still alive.
unsafe fn arrival_of(msg: &WSAMSG) -> Arrival {
    let mut arrival = Arrival::default();
    let start = msg.Control.buf as usize;
    let end = start + msg.Control.len as usize;
    let mut at = start;
    while at + size_of::<CMSGHDR>() <= end {
        let header = ptr::read_unaligned(at as *const CMSGHDR);
        if header.cmsg_len < size_of::<CMSGHDR>() || at + header.cmsg_len > end {
            break;
        }
        let data = (at + align(size_of::<CMSGHDR>())) as *const u8;
        // Ints here, little-endian: the value is their first byte.
        let byte = || *data;
        match (header.cmsg_level, header.cmsg_type) {
            (IPPROTO_IP, IP_PKTINFO) => {
                let info = ptr::read_unaligned(data.cast::<IN_PKTINFO>());
                arrival.destination = Some(Destination {
                    ip: IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.S_un.S_addr))),
                    interface: info.ipi_ifindex,
                });
            }
            (IPPROTO_IPV6, IPV6_PKTINFO) => {
                let info = ptr::read_unaligned(data.cast::<IN6_PKTINFO>());
                arrival.destination = Some(Destination {
                    ip: IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.u.Byte)),
                    interface: info.ipi6_ifindex,
                });
            }
            (IPPROTO_IP, IP_TOS) | (IPPROTO_IPV6, IPV6_TCLASS) => arrival.tos = Some(byte()),
            (IPPROTO_IP, IP_HOPLIMIT) | (IPPROTO_IPV6, IPV6_HOPLIMIT) => arrival.ttl = Some(byte()),
            _ => {}
        }
        at += align(header.cmsg_len);
    }
    arrival
}

pub(in crate::sys) fn send_from(
    socket: SockRef<'_>,
    buf: &[u8],
    to: SocketAddr,
    from: Destination,
) -> io::Result<usize> {
    let to = SockAddr::from(to);
    let v4_source = match from.ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    let mut control = [0u64; CONTROL_WORDS];
    let base = control.as_mut_ptr().cast::<u8>();
    let (level, kind, len) = match v4_source {
        Some(_) => (IPPROTO_IP, IP_PKTINFO, size_of::<IN_PKTINFO>()),
        None => (IPPROTO_IPV6, IPV6_PKTINFO, size_of::<IN6_PKTINFO>()),
    };
    let header_len = align(size_of::<CMSGHDR>());
    // SAFETY: the one message and its data are written within `control`, which is larger than
    // a header and either pktinfo; the header's pointers point into locals alive for the call.
    unsafe {
        ptr::write_unaligned(
            base.cast::<CMSGHDR>(),
            CMSGHDR {
                cmsg_len: header_len + len,
                cmsg_level: level,
                cmsg_type: kind,
            },
        );
        let data = base.add(header_len);
        match (v4_source, from.ip) {
            (Some(v4), _) => {
                let mut info: IN_PKTINFO = zeroed();
                info.ipi_addr.S_un.S_addr = u32::from(v4).to_be();
                ptr::write_unaligned(data.cast(), info);
            }
            (None, IpAddr::V6(v6)) => {
                let mut info: IN6_PKTINFO = zeroed();
                info.ipi6_addr.u.Byte = v6.octets();
                info.ipi6_ifindex = from.interface;
                ptr::write_unaligned(data.cast(), info);
            }
            (None, IpAddr::V4(_)) => unreachable!("an IPv4 source is always v4_source"),
        }
        let mut data_buf = WSABUF {
            len: buf.len() as u32,
            buf: buf.as_ptr().cast_mut(),
        };
        let msg = WSAMSG {
            name: to.as_ptr().cast_mut().cast(),
            namelen: to.len(),
            lpBuffers: &mut data_buf,
            dwBufferCount: 1,
            Control: WSABUF {
                len: align(header_len + len) as u32,
                buf: base,
            },
            dwFlags: 0,
        };
        let mut sent = 0u32;
        match WSASendMsg(raw(&socket), &msg, 0, &mut sent, ptr::null_mut(), None) {
            0 => Ok(sent as usize),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

pub(in crate::sys) fn set_marking(
    socket: SockRef<'_>,
    v6: bool,
    marking: Marking,
) -> io::Result<()> {
    if marking.tos.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            TRAFFIC_CLASS_UNSUPPORTED.unwrap_or_default(),
        ));
    }
    let v4 = |name, value| match v6 {
        true => {
            let _ = set_int(&socket, IPPROTO_IP, name, value);
            Ok(())
        }
        false => set_int(&socket, IPPROTO_IP, name, value),
    };
    if let Some(ttl) = marking.ttl {
        v4(IP_TTL, i32::from(ttl))?;
        if v6 {
            set_int(&socket, IPPROTO_IPV6, IPV6_UNICAST_HOPS, i32::from(ttl))?;
        }
    }
    if marking.dont_fragment {
        v4(IP_DONTFRAGMENT, 1)?;
        if v6 {
            set_int(&socket, IPPROTO_IPV6, IPV6_DONTFRAG, 1)?;
        }
    }
    Ok(())
}

pub(in crate::sys) const TRAFFIC_CLASS_UNSUPPORTED: Option<&str> = Some(
    "Windows ignores a socket's DSCP and ECN (IP_TOS) unless a QoS policy allows it, so soc \
     does not pretend to set them",
);

pub(in crate::sys) fn is_too_big(err: &io::Error) -> bool {
    err.raw_os_error() == Some(WSAEMSGSIZE)
}

pub(in crate::sys) fn path_mtu(_socket: SockRef<'_>, _v6: bool) -> Option<u32> {
    None
}
