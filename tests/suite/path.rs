//! What the path does to a packet: a UDP server on a wildcard address answers from the address
//! asked; the client's marking (`--dscp`, `--ecn`, `--ttl`) is on its packets, as a receiver
//! written here reads it from the headers; `--reflect-tos` sends it back, and a relay that
//! clears it shows as a change; `-4`, `-6`, `--source`; `--df` in a network namespace.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;

use crate::common::sources::datagrams_from;
use crate::common::{client_at, ServerProcess};

const CLIENT: &str = env!("CARGO_BIN_EXE_soc_client");

/// The UDP address of a server started with `args`.
fn udp_server(args: &[&str]) -> (ServerProcess, SocketAddr) {
    let server = ServerProcess::start(&[&["-u"][..], args].concat());
    let line = server.expect_output("listening on udp ");
    let addr = line["listening on udp ".len()..].parse().unwrap();
    (server, addr)
}

/// Sends from an unconnected socket to `to` and returns where the echo came from.
fn echo_from(socket: &UdpSocket, to: SocketAddr) -> SocketAddr {
    socket.send_to(b"where from?", to).unwrap();
    let mut buffer = [0u8; 64];
    let (len, from) = socket.recv_from(&mut buffer).expect("an echo");
    assert_eq!(&buffer[..len], b"where from?");
    from
}

#[test]
fn a_udp_server_on_a_wildcard_address_answers_from_the_address_asked() {
    // Where the system sends every datagram from 127.0.0.1 whatever is asked (Wine), the
    // address an echo comes from says nothing; said, and skipped.
    if !crate::common::sources::udp_sources_kept() {
        return;
    }
    for host in ["0.0.0.0", "::"] {
        if host == "::" && std::net::UdpSocket::bind("[::1]:0").is_err() {
            eprintln!("skipped {host}: no IPv6 here");
            continue;
        }
        let (_server, addr) = udp_server(&["--host", host]);
        let port = addr.port();
        let Some(socket) = datagrams_from("127.0.0.1") else {
            return;
        };
        for asked in ["127.0.0.2", "127.0.0.3", "127.0.0.1"] {
            let to = SocketAddr::new(asked.parse().unwrap(), port);
            let from = echo_from(&socket, to);
            assert_eq!(
                from, to,
                "server on {host}: the echo of a datagram to {to} came from {from}"
            );
        }
        // A connected socket, as soc_client's, takes only what comes from where it sent.
        let run = client_at(
            SocketAddr::new("127.0.0.2".parse().unwrap(), port),
            &["-u", "-m", "hello", "--timeout", "2"],
            Vec::new(),
        );
        assert!(run.status.success(), "server on {host}: {}", run.stderr);
        assert_eq!(run.stdout, b"hello\n");
    }
}

/// Path flags that do not read, or do not go together, or with what they cannot apply to.
#[test]
fn path_flags_that_make_no_sense_are_usage_errors() {
    for args in [
        &["--dscp", "AF44", "-m", "x"][..],
        &["--dscp", "64", "-m", "x"],
        &["--ecn", "ect2", "-u", "-m", "x"],
        &["--ttl", "0", "-m", "x"],
        &["--ttl", "256", "-m", "x"],
        &["-4", "-6", "-m", "x"],
        &["--source", "lab", "-m", "x"],
        &["--df", "-m", "x"],
        &["--ecn", "ce", "-m", "x"],
    ] {
        let output = Command::new(CLIENT).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}

#[test]
fn a_source_address_is_where_the_server_sees_the_client_come_from() {
    let server = ServerProcess::start(&["-u"]);
    if datagrams_from("127.0.0.2").is_none() {
        return;
    }
    let run = client_at(
        server.addr,
        &["--source", "127.0.0.2", "-m", "hi"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let line = server.expect_log(" connected");
    assert!(line.contains("127.0.0.2:"), "{line}");
    // Over UDP too, from a chosen port: the echo comes back to it, so the run passes.
    let port = UdpSocket::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source = format!("127.0.0.2:{port}");
    let run = client_at(
        server.addr,
        &["-u", "--source", &source, "-m", "hi"],
        Vec::new(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    // A source of the other family cannot reach the server: said in one line.
    let run = client_at(server.addr, &["--source", "::1", "-m", "hi"], Vec::new());
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("one is IPv4, the other IPv6"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_family_flag_picks_the_addresses_of_its_family() {
    let server = ServerProcess::start(&["--host", "::"]);
    let port = server.addr.port().to_string();
    let run = |args: &[&str]| {
        Command::new(CLIENT)
            .args(args)
            .args(["--port", &port, "-m", "hi"])
            .output()
            .unwrap()
    };
    let v4 = run(&["-4", "--host", "localhost"]);
    assert!(v4.status.success(), "{v4:?}");
    let line = server.expect_log(" connected");
    // A dual-stack listener sees an IPv4 client as ::ffff:127.0.0.1.
    assert!(
        line.contains("127.0.0.1") && !line.contains("::1]"),
        "-4 localhost: {line}"
    );
    let localhost_has_v6 = ("localhost", 7).to_socket_addrs_v6().unwrap_or(false);
    let v6 = run(&["-6", "--host", "localhost"]);
    let stderr = String::from_utf8_lossy(&v6.stderr);
    if localhost_has_v6 {
        assert!(v6.status.success(), "{stderr}");
        assert!(server.expect_log(" connected").contains("[::1]:"));
    } else {
        assert_eq!(v6.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("localhost has no IPv6 (-6) address"),
            "{stderr}"
        );
    }
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let literal = run(&["-6", "--host", "::1"]);
        assert!(literal.status.success(), "{literal:?}");
        assert!(server.expect_log(" connected").contains("[::1]:"));
    }
}

/// Whether a name has an IPv6 address.
trait HasV6 {
    fn to_socket_addrs_v6(&self) -> std::io::Result<bool>;
}

impl HasV6 for (&str, u16) {
    fn to_socket_addrs_v6(&self) -> std::io::Result<bool> {
        use std::net::ToSocketAddrs;
        Ok(self.to_socket_addrs()?.any(|addr| addr.is_ipv6()))
    }
}

#[cfg(windows)]
#[test]
fn windows_refuses_a_traffic_class_it_would_ignore() {
    for (program, args) in [
        (CLIENT, &["--dscp", "EF", "-u", "-m", "x"][..]),
        (CLIENT, &["--ecn", "ect1", "-u", "-m", "x"]),
        (env!("CARGO_BIN_EXE_soc_server"), &["-u", "--reflect-tos"]),
    ] {
        let output = Command::new(program).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("not available on this system"), "{stderr}");
    }
}

#[cfg(unix)]
mod marking {
    use super::*;
    use crate::common::STEP;

    /// The last lines of a run's standard output that say what came back.
    fn path_lines(stdout: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(stdout)
            .lines()
            .filter(|line| line.starts_with("dscp: ") || line.starts_with("ecn: "))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_reflecting_server_sends_the_marking_back_and_the_client_reports_it() {
        let (_server, addr) = udp_server(&["--reflect-tos"]);
        let run = client_at(
            addr,
            &[
                "ping", "-u", "-c", "5", "-i", "0.01", "--dscp", "AF41", "--ecn", "ect0",
            ],
            Vec::new(),
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(
            path_lines(&run.stdout),
            [
                "dscp: sent AF41, came back AF41 5 of 5",
                "ecn: sent ECT(0), came back ECT(0) 5 of 5"
            ]
        );
        let stdout = String::from_utf8_lossy(&run.stdout);
        let probes = stdout
            .lines()
            .filter(|line| line.contains(" dscp=AF41 ecn=ECT(0) ttl="));
        assert_eq!(probes.count(), 5, "{stdout}");
    }

    /// Without --reflect-tos the echoes carry the server's own marking: CS0.
    #[test]
    fn a_server_that_does_not_reflect_sends_its_own_marking() {
        let (_server, addr) = udp_server(&[]);
        let run = client_at(
            addr,
            &["ping", "-u", "-c", "2", "-i", "0.01", "--dscp", "EF"],
            Vec::new(),
        );
        assert!(run.status.success(), "{}", run.stderr);
        let lines = path_lines(&run.stdout);
        assert_eq!(
            lines[0],
            "dscp: sent EF, came back CS0 2 of 2: changed on the way"
        );
    }

    /// A relay between client and server that forwards the bytes on sockets of its own, which
    /// send with no marking: what the client sent is cleared on the way.
    fn clearing_relay(server: SocketAddr) -> SocketAddr {
        let outside = UdpSocket::bind("127.0.0.1:0").unwrap();
        let inside = UdpSocket::bind("127.0.0.1:0").unwrap();
        inside.connect(server).unwrap();
        let addr = outside.local_addr().unwrap();
        outside.set_read_timeout(Some(STEP)).unwrap();
        inside.set_read_timeout(Some(STEP)).unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 2048];
            // Bounded: it ends when nothing comes for a step.
            while let Ok((len, client)) = outside.recv_from(&mut buffer) {
                inside.send(&buffer[..len]).unwrap();
                let Ok(len) = inside.recv(&mut buffer) else {
                    return;
                };
                outside.send_to(&buffer[..len], client).unwrap();
            }
        });
        addr
    }

    #[test]
    fn a_relay_that_clears_the_dscp_shows_as_a_change_on_the_way() {
        let (_server, addr) = udp_server(&["--reflect-tos"]);
        let relay = clearing_relay(addr);
        let run = client_at(
            relay,
            &["ping", "-u", "-c", "3", "-i", "0.01", "--dscp", "AF41"],
            Vec::new(),
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(
            path_lines(&run.stdout)[0],
            "dscp: sent AF41, came back CS0 3 of 3: changed on the way"
        );
        let json = client_at(
            relay,
            &[
                "ping", "-u", "-c", "2", "-i", "0.01", "--dscp", "AF41", "--json",
            ],
            Vec::new(),
        )
        .json();
        assert_eq!(json["path"]["dscp_sent"], "AF41", "{json}");
        assert_eq!(json["path"]["dscp_received"]["CS0"], 2, "{json}");
        assert_eq!(
            json["ok"], true,
            "a changed marking is reported, not a failure: {json}"
        );
    }
}

#[cfg(target_os = "linux")]
mod headers;

/// `--df` with a datagram too big for a path whose MTU is 1 500: a loopback of that MTU in a
/// network namespace of its own (root only; said when skipped).
#[cfg(target_os = "linux")]
#[test]
fn a_datagram_too_big_for_the_path_with_df_fails_in_one_line() {
    let may = Command::new("unshare").args(["-n", "true"]).output();
    if !may.as_ref().is_ok_and(|output| output.status.success()) {
        eprintln!("skipped: no network namespace of its own here (unshare -n needs root): {may:?}");
        return;
    }
    let server = env!("CARGO_BIN_EXE_soc_server");
    // Inside the namespace the port is the test's own: nothing else lives there.
    let script = format!(
        r#"ip link set lo up mtu 1500 || exit 77
: > "$TMP/listening"
"{server}" -u --port 7777 > "$TMP/listening" 2>/dev/null &
pid=$!
i=0; until grep -q 'listening on udp' "$TMP/listening"; do i=$((i+1)); [ $i -gt 2000 ] && exit 78; sleep 0.01; done
big=$(head -c 2000 /dev/zero | tr '\0' x)
"{CLIENT}" -u --df -m "$big" --port 7777; echo "message:$?"
"{CLIENT}" -u -m "$big" --port 7777 > /dev/null; echo "fragmented:$?"
"{CLIENT}" ping -u -s 2000 --df -c 1 --port 7777; echo "ping:$?"
"{CLIENT}" bench -u --rate 10 -s 2000 --df -d 0.2 --port 7777; echo "bench:$?"
kill $pid"#
    );
    let dir = crate::common::TempDir::new("df");
    let output = Command::new("unshare")
        .args(["-n", "sh", "-c", &script])
        .env("TMP", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(77) {
        eprintln!("skipped: the namespace's loopback MTU cannot be set: {stderr}");
        return;
    }
    for (what, code) in [("message", 1), ("fragmented", 0), ("ping", 1), ("bench", 1)] {
        assert!(
            stdout.contains(&format!("{what}:{code}")),
            "{what}: {stdout}\n{stderr}"
        );
    }
    // -m's datagram is the text and its newline.
    let too_big = "bytes is too big for the path to udp 127.0.0.1:7777 (path MTU 1500), and --df \
                   forbids fragmenting it";
    assert_eq!(stderr.matches(too_big).count(), 3, "{stderr}");
    assert!(stderr.contains("a datagram of 2001 bytes") && stderr.contains("of 2000 bytes"));
}
