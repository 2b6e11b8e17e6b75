//! Linux and macOS: IP_PKTINFO and IPV6_PKTINFO for the destination address, IP_RECVTOS,
//! IP_RECVTTL, IPV6_RECVTCLASS and IPV6_RECVHOPLIMIT for the marking, all in recvmsg's and
//! sendmsg's ancillary data. The two differ in how the marking comes back: Linux names the
//! messages IP_TOS (a byte) and IP_TTL (an int), macOS IP_RECVTOS and IP_RECVTTL (a byte each).

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::ptr;

use libc::{c_int, c_void, socklen_t};
use socket2::{SockAddr, SockRef};

use super::super::datagram::{Arrival, Destination, Marking, Reported};

/// Room for every ancillary message asked for (pktinfo, class, hop limit), with alignment.
const CONTROL_WORDS: usize = 32;

fn set_int(socket: &SockRef<'_>, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
    // SAFETY: setsockopt reads one int from a valid pointer, for a descriptor the caller holds.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            ptr::from_ref(&value).cast(),
            size_of::<c_int>() as socklen_t,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

pub(in crate::sys) fn report_destination(socket: SockRef<'_>, v6: bool) -> io::Result<()> {
    if v6 {
        set_int(&socket, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        // A dual-stack socket's IPv4 datagrams come with IPv4's message (an IPv6-only socket
        // refuses it, and needs none).
        let _ = set_int(&socket, libc::IPPROTO_IP, libc::IP_PKTINFO, 1);
        Ok(())
    } else {
        set_int(&socket, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)
    }
}

pub(in crate::sys) fn report_marks(socket: SockRef<'_>, v6: bool) -> Reported {
    let v4_tos = set_int(&socket, libc::IPPROTO_IP, libc::IP_RECVTOS, 1).is_ok();
    let v4_ttl = set_int(&socket, libc::IPPROTO_IP, libc::IP_RECVTTL, 1).is_ok();
    if !v6 {
        return Reported {
            tos: v4_tos,
            ttl: v4_ttl,
        };
    }
    Reported {
        tos: set_int(&socket, libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS, 1).is_ok(),
        ttl: set_int(&socket, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1).is_ok(),
    }
}

/// The IPv4 message that carries the TOS byte, and the one that carries the TTL, as received.
#[cfg(target_os = "linux")]
const RECEIVED_TOS: c_int = libc::IP_TOS;
#[cfg(target_os = "linux")]
const RECEIVED_TTL: c_int = libc::IP_TTL;
#[cfg(not(target_os = "linux"))]
const RECEIVED_TOS: c_int = libc::IP_RECVTOS;
#[cfg(not(target_os = "linux"))]
const RECEIVED_TTL: c_int = libc::IP_RECVTTL;

pub(in crate::sys) fn receive(
    socket: SockRef<'_>,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Arrival)> {
    // SAFETY: every pointer in the header points into a local that outlives the call, with its
    // length; the kernel writes within those lengths and says how much it wrote.
    unsafe {
        let mut name: libc::sockaddr_storage = zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; CONTROL_WORDS];
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = ptr::from_mut(&mut name).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
        let len = libc::recvmsg(socket.as_raw_fd(), &mut msg, 0);
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        let from = match msg.msg_namelen {
            0 => socket.peer_addr()?,
            named => SockAddr::new(name, named),
        };
        let from = from
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP sender"))?;
        Ok((len as usize, from, arrival_of(&msg)))
    }
}

/// Reads the ancillary messages of a received header.
///
/// # Safety
/// `msg` is a header recvmsg filled in, whose control buffer is still alive.
unsafe fn arrival_of(msg: &libc::msghdr) -> Arrival {
    let mut arrival = Arrival::default();
    let mut cmsg = libc::CMSG_FIRSTHDR(msg);
    while !cmsg.is_null() {
        let data = libc::CMSG_DATA(cmsg);
        let byte = || *data;
        let int = || ptr::read_unaligned(data.cast::<c_int>()).clamp(0, 255) as u8;
        match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                let info = ptr::read_unaligned(data.cast::<libc::in_pktinfo>());
                // Linux: ipi_spec_dst is the local address to answer from (the destination,
                // unless that was a broadcast); macOS fills ipi_addr.
                #[cfg(target_os = "linux")]
                let local = info.ipi_spec_dst.s_addr;
                #[cfg(not(target_os = "linux"))]
                let local = info.ipi_addr.s_addr;
                arrival.destination = Some(Destination {
                    ip: IpAddr::V4(Ipv4Addr::from(u32::from_be(local))),
                    interface: info.ipi_ifindex as u32,
                });
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                let info = ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                arrival.destination = Some(Destination {
                    ip: IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)),
                    interface: info.ipi6_ifindex as u32,
                });
            }
            (libc::IPPROTO_IP, RECEIVED_TOS) => arrival.tos = Some(byte()),
            #[cfg(target_os = "linux")]
            (libc::IPPROTO_IP, RECEIVED_TTL) => arrival.ttl = Some(int()),
            #[cfg(not(target_os = "linux"))]
            (libc::IPPROTO_IP, RECEIVED_TTL) => arrival.ttl = Some(byte()),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => arrival.tos = Some(int()),
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => arrival.ttl = Some(int()),
            _ => {}
        }
        cmsg = libc::CMSG_NXTHDR(msg, cmsg);
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
    // SAFETY: as in `receive`: the header's pointers point into locals that outlive the call,
    // and the one ancillary message is written within the control buffer CMSG_SPACE sized.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: buf.as_ptr().cast_mut().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; CONTROL_WORDS];
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = to.as_ptr().cast_mut().cast();
        msg.msg_namelen = to.len();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        // An IPv4 source (for an IPv4 peer, also of a dual-stack socket) goes as IP_PKTINFO.
        let v4_source = match from.ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        };
        let (level, kind, len) = match v4_source {
            Some(_) => (
                libc::IPPROTO_IP,
                libc::IP_PKTINFO,
                size_of::<libc::in_pktinfo>(),
            ),
            None => (
                libc::IPPROTO_IPV6,
                libc::IPV6_PKTINFO,
                size_of::<libc::in6_pktinfo>(),
            ),
        };
        msg.msg_controllen = libc::CMSG_SPACE(len as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = kind;
        (*cmsg).cmsg_len = libc::CMSG_LEN(len as u32) as _;
        let data: *mut c_void = libc::CMSG_DATA(cmsg).cast();
        match (v4_source, from.ip) {
            (Some(v4), _) => {
                let mut info: libc::in_pktinfo = zeroed();
                info.ipi_spec_dst.s_addr = u32::from(v4).to_be();
                ptr::write_unaligned(data.cast(), info);
            }
            (None, IpAddr::V6(v6)) => {
                let mut info: libc::in6_pktinfo = zeroed();
                info.ipi6_addr.s6_addr = v6.octets();
                // A link-local address means nothing without its interface.
                info.ipi6_ifindex = from.interface as _;
                ptr::write_unaligned(data.cast(), info);
            }
            (None, IpAddr::V4(_)) => unreachable!("an IPv4 source is always v4_source"),
        }
        let sent = libc::sendmsg(socket.as_raw_fd(), &msg, 0);
        match sent {
            n if n < 0 => Err(io::Error::last_os_error()),
            n => Ok(n as usize),
        }
    }
}

pub(in crate::sys) fn set_marking(
    socket: SockRef<'_>,
    v6: bool,
    marking: Marking,
) -> io::Result<()> {
    let ip = libc::IPPROTO_IP;
    let ip6 = libc::IPPROTO_IPV6;
    // On a dual-stack IPv6 socket the IPv4 options serve its IPv4 peers; an IPv6-only one
    // refuses them, and needs none.
    let v4 = |name, value| match v6 {
        true => {
            let _ = set_int(&socket, ip, name, value);
            Ok(())
        }
        false => set_int(&socket, ip, name, value),
    };
    if let Some(tos) = marking.tos {
        v4(libc::IP_TOS, c_int::from(tos))?;
        if v6 {
            set_int(&socket, ip6, libc::IPV6_TCLASS, c_int::from(tos))?;
        }
    }
    if let Some(ttl) = marking.ttl {
        v4(libc::IP_TTL, c_int::from(ttl))?;
        if v6 {
            set_int(&socket, ip6, libc::IPV6_UNICAST_HOPS, c_int::from(ttl))?;
        }
    }
    if marking.dont_fragment {
        #[cfg(target_os = "linux")]
        {
            v4(libc::IP_MTU_DISCOVER, libc::IP_PMTUDISC_DO)?;
            if v6 {
                set_int(
                    &socket,
                    ip6,
                    libc::IPV6_MTU_DISCOVER,
                    libc::IPV6_PMTUDISC_DO,
                )?;
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            v4(libc::IP_DONTFRAG, 1)?;
            if v6 {
                set_int(&socket, ip6, libc::IPV6_DONTFRAG, 1)?;
            }
        }
    }
    Ok(())
}

pub(in crate::sys) const TRAFFIC_CLASS_UNSUPPORTED: Option<&str> = None;

pub(in crate::sys) fn is_too_big(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EMSGSIZE)
}

#[cfg(target_os = "linux")]
pub(in crate::sys) fn path_mtu(socket: SockRef<'_>, v6: bool) -> Option<u32> {
    let (level, name) = match v6 {
        true => (libc::IPPROTO_IPV6, libc::IPV6_MTU),
        false => (libc::IPPROTO_IP, libc::IP_MTU),
    };
    let mut mtu: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into the int it is given.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            name,
            ptr::from_mut(&mut mtu).cast(),
            &mut len,
        )
    };
    (rc == 0 && mtu > 0).then_some(mtu as u32)
}

#[cfg(not(target_os = "linux"))]
pub(in crate::sys) fn path_mtu(_socket: SockRef<'_>, _v6: bool) -> Option<u32> {
    None
}
