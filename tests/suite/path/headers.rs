//! Linux: receivers written for the tests that read each packet's TOS byte and TTL from its
//! header (IP_RECVTOS and IP_RECVTTL: recvmsg's ancillary data over UDP; IP_PKTOPTIONS, the
//! options of the last segment received, over TCP), so that a test sees what the client's
//! packets really carried, not what soc itself reports.

use std::io::{Read, Write};
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver};
use std::thread;

use crate::common::{client_at, STEP};

/// `(TOS, TTL)` of a packet.
type Header = (u8, u8);

fn enable(fd: i32) {
    for option in [libc::IP_RECVTOS, libc::IP_RECVTTL] {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads one int from a valid pointer.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_IP,
                option,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "setsockopt");
    }
}

/// The TOS and TTL among a header's ancillary messages.
///
/// # Safety
/// `msg` has a control buffer (and its length) that the kernel filled in and that is alive.
unsafe fn header_of(msg: &libc::msghdr) -> Header {
    let (mut tos, mut ttl) = (None, None);
    let mut cmsg = libc::CMSG_FIRSTHDR(msg);
    while !cmsg.is_null() {
        let data = libc::CMSG_DATA(cmsg);
        match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
            (libc::IPPROTO_IP, libc::IP_TOS) => tos = Some(*data),
            (libc::IPPROTO_IP, libc::IP_TTL) => {
                ttl = Some(std::ptr::read_unaligned(data.cast::<libc::c_int>()) as u8)
            }
            _ => {}
        }
        cmsg = libc::CMSG_NXTHDR(msg, cmsg);
    }
    (tos.expect("the TOS byte"), ttl.expect("the TTL"))
}

/// A UDP echo on 127.0.0.1 that tells the header of every datagram it gets. It ends when nothing
/// comes for a step.
fn udp_echo() -> (SocketAddr, Receiver<Header>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(STEP)).unwrap();
    enable(socket.as_raw_fd());
    let addr = socket.local_addr().unwrap();
    let (tell, told) = mpsc::channel();
    thread::spawn(move || loop {
        let mut buffer = [0u8; 65_536];
        let mut control = [0u64; 16];
        // SAFETY: the header points into locals alive for the call, with their lengths.
        let (len, from, header) = unsafe {
            let mut name: libc::sockaddr_in = zeroed();
            let mut iov = libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: buffer.len(),
            };
            let mut msg: libc::msghdr = zeroed();
            msg.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
            msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of::<[u64; 16]>();
            let len = libc::recvmsg(socket.as_raw_fd(), &mut msg, 0);
            if len < 0 {
                return;
            }
            let from = SocketAddr::from((
                u32::from_be(name.sin_addr.s_addr).to_be_bytes(),
                u16::from_be(name.sin_port),
            ));
            (len as usize, from, header_of(&msg))
        };
        if tell.send(header).is_err() || socket.send_to(&buffer[..len], from).is_err() {
            return;
        }
    });
    (addr, told)
}

/// A TCP echo on 127.0.0.1 that tells the header of the segments it reads, for each read.
fn tcp_echo() -> (SocketAddr, Receiver<Header>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // Set on the listener, so that the accepted socket has them from its first segment.
    enable(listener.as_raw_fd());
    let addr = listener.local_addr().unwrap();
    let (tell, told) = mpsc::channel();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        stream.set_read_timeout(Some(STEP)).unwrap();
        let mut buffer = [0u8; 65_536];
        while let Ok(len @ 1..) = stream.read(&mut buffer) {
            let mut control = [0u64; 16];
            let mut control_len = size_of::<[u64; 16]>() as libc::socklen_t;
            // SAFETY: getsockopt writes at most `control_len` bytes into `control`; the header
            // read after points at it with the length the kernel wrote.
            let header = unsafe {
                let rc = libc::getsockopt(
                    stream.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_PKTOPTIONS,
                    control.as_mut_ptr().cast(),
                    &mut control_len,
                );
                assert_eq!(rc, 0, "IP_PKTOPTIONS");
                let mut msg: libc::msghdr = zeroed();
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = control_len as usize;
                header_of(&msg)
            };
            if tell.send(header).is_err() || stream.write_all(&buffer[..len]).is_err() {
                return;
            }
        }
    });
    (addr, told)
}

/// EF and ECT(1) in one byte.
const EF_ECT1: u8 = 46 << 2 | 1;
const MARKS: [&str; 6] = ["--dscp", "EF", "--ecn", "ect1", "--ttl", "7"];

#[test]
fn every_udp_mode_sends_exactly_the_marking_asked() {
    let (addr, headers) = udp_echo();
    let runs: [&[&str]; 3] = [
        &["ping", "-u", "-c", "3", "-i", "0.01"],
        &[
            "bench", "-u", "--rate", "100", "-d", "0.3", "--warmup", "0", "-c", "2",
        ],
        &["-u", "-m", "marked"],
    ];
    for args in runs {
        let run = client_at(addr, &[args, &MARKS[..]].concat(), Vec::new());
        // A debug build's generator on a busy machine may fail its own lateness check: the
        // marking is what is tested here, and every datagram is looked at.
        let generator_late = crate::common::generator_was_late(&run.stderr);
        assert!(
            run.status.success() || generator_late,
            "{args:?}: {}",
            run.stderr
        );
        let seen: Vec<Header> = headers.try_iter().collect();
        assert!(!seen.is_empty(), "{args:?}: nothing arrived");
        assert!(
            seen.iter().all(|&header| header == (EF_ECT1, 7)),
            "{args:?}: {seen:x?}"
        );
    }
    // And without the flags, what the system sends by default: nothing asked, nothing set.
    let run = client_at(addr, &["-u", "-m", "plain"], Vec::new());
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(headers.try_iter().collect::<Vec<_>>(), [(0, 64)]);
}

/// TCP marks its segments with the DSCP and TTL asked (its ECN bits are TCP's own).
#[test]
fn tcp_modes_send_their_segments_with_the_dscp_and_ttl_asked() {
    for args in [&["-m", "marked"][..], &["ping", "-c", "2", "-i", "0.01"]] {
        let (addr, headers) = tcp_echo();
        let run = client_at(
            addr,
            &[args, &["--dscp", "EF", "--ttl", "7"][..]].concat(),
            Vec::new(),
        );
        assert!(run.status.success(), "{args:?}: {}", run.stderr);
        let seen: Vec<Header> = headers.try_iter().collect();
        assert!(!seen.is_empty(), "{args:?}: nothing read");
        assert!(
            seen.iter().all(|&(tos, ttl)| tos >> 2 == 46 && ttl == 7),
            "{args:?}: {seen:x?}"
        );
    }
}
