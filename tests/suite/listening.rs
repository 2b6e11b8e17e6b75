//! Where the server listens: every address a name resolves to, every `--host` given, and both
//! families on `::`. One `listening on` line per address, all on one port.

use std::io::BufReader;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::{Child, Command, Stdio};

use crate::common::client_at;

/// A soc_server started with `args` and `--port 0`, and the addresses of its first `lines`
/// lines of output; killed (by PID) on drop.
struct Listening {
    child: Child,
    addrs: Vec<SocketAddr>,
}

impl Listening {
    fn start(args: &[&str], lines: usize) -> Listening {
        let mut child = Command::new(env!("CARGO_BIN_EXE_soc_server"))
            .args(args)
            .args(["--port", "0", "-q"])
            .env_remove("RUST_LOG")
            .env_remove("SOC_HOST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let addrs = crate::common::listening_addrs(&mut stdout, lines);
        Listening { child, addrs }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_echoes_at(addr: SocketAddr) {
    let run = client_at(addr, &["-m", "which family?"], Vec::new());
    assert!(run.status.success(), "{addr}: {}", run.stderr);
    assert_eq!(run.stdout, b"which family?\n");
}

#[test]
fn repeated_host_options_listen_on_each_address_on_one_port() {
    let server = Listening::start(&["--host", "127.0.0.1", "--host", "::1"], 2);
    let [v4, v6] = server.addrs[..] else {
        panic!("{:?}", server.addrs)
    };
    assert_eq!(v4.to_string(), format!("127.0.0.1:{}", v4.port()));
    assert_eq!(v6.to_string(), format!("[::1]:{}", v4.port()));
    assert_echoes_at(v4);
    assert_echoes_at(v6);
}

#[test]
fn a_name_is_listened_on_at_every_address_it_resolves_to() {
    let mut resolved: Vec<SocketAddr> = ("localhost", 0).to_socket_addrs().unwrap().collect();
    resolved.dedup();
    if !(resolved.iter().any(|a| a.is_ipv4()) && resolved.iter().any(|a| a.is_ipv6())) {
        eprintln!("skipped: localhost resolves to {resolved:?} here, not to both families");
        return;
    }
    let server = Listening::start(&["--host", "localhost"], resolved.len());
    let port = server.addrs[0].port();
    for addr in &server.addrs {
        assert_eq!(addr.port(), port, "{:?}", server.addrs);
        assert_echoes_at(*addr);
    }
    assert!(
        server.addrs.iter().any(|a| a.is_ipv4()),
        "{:?}",
        server.addrs
    );
    assert!(
        server.addrs.iter().any(|a| a.is_ipv6()),
        "{:?}",
        server.addrs
    );
}

#[test]
fn the_ipv6_wildcard_takes_ipv4_clients_too() {
    let server = Listening::start(&["--host", "::"], 1);
    let port = server.addrs[0].port();
    assert_eq!(server.addrs[0].to_string(), format!("[::]:{port}"));
    // Only loopback traffic: an IPv4 client on 127.0.0.1 and an IPv6 one on ::1.
    assert_echoes_at(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    assert_echoes_at(format!("[::1]:{port}").parse().unwrap());
}
