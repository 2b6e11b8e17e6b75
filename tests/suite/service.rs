//! soc_server under a service manager: sockets handed over by systemd's socket activation
//! (Debian's `systemd-socket-activate`), and `--inetd` under socat, tcpsvd (ipsvd) and
//! socket activation's `--accept --inetd`. Both are Unix-only: on Windows, `--inetd` says so and
//! the `LISTEN_*` variables are not read.

use std::process::Command;

use crate::common::ServerProcess;

const SERVER: &str = env!("CARGO_BIN_EXE_soc_server");

/// With a `LISTEN_PID` that is not soc_server's, the variables are another process's: it binds
/// as usual.
#[test]
fn sockets_handed_to_another_process_are_not_taken() {
    let server = ServerProcess::start_with(&[], |command| {
        command.env("LISTEN_PID", "1").env("LISTEN_FDS", "1");
    });
    assert_ne!(server.addr.port(), 0);
    crate::common::sources::round_trip(&crate::common::connect(server.addr));
}

#[cfg(windows)]
#[test]
fn inetd_mode_says_windows_has_none() {
    let output = Command::new(SERVER).arg("--inetd").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Windows has none"), "{stderr}");
}

#[cfg(unix)]
mod unix {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream, UdpSocket};
    use std::process::Stdio;
    use std::sync::mpsc::Receiver;
    use std::thread;

    use super::*;
    use crate::common::{echo_concurrently, lines_of, peer, read_to_end, Reaped, STEP};

    /// A super-server the test started, with its standard error as lines.
    struct Supervisor {
        _process: Reaped,
        addr: SocketAddr,
        stderr: Receiver<String>,
        stdout: Receiver<String>,
    }

    /// Where a super-server says it listens: socat and systemd-socket-activate on standard
    /// error, tcpsvd on standard output.
    #[derive(Clone, Copy)]
    enum Says {
        OnStdout,
        OnStderr,
    }

    impl Supervisor {
        /// Starts `command` and waits for the line that says it listens (`ready` finds the
        /// address in it, or says it failed to).
        fn start(
            mut command: Command,
            says: Says,
            ready: impl Fn(&str) -> Option<Result<SocketAddr, String>>,
        ) -> Result<Supervisor, String> {
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .env_remove("RUST_LOG");
            let mut child = command.spawn().expect("start the super-server");
            let stderr = lines_of(child.stderr.take().unwrap());
            let stdout = lines_of(child.stdout.take().unwrap());
            let process = Reaped(child);
            let status = match says {
                Says::OnStdout => &stdout,
                Says::OnStderr => &stderr,
            };
            loop {
                let line = status
                    .recv_timeout(STEP)
                    .map_err(|_| "no listening line".to_string())?;
                if let Some(found) = ready(&line) {
                    return found.map(|addr| Supervisor {
                        _process: process,
                        addr,
                        stderr,
                        stdout,
                    });
                }
            }
        }

        /// The next line of standard output (soc_server's, once started) that starts `start`.
        fn expect_output(&self, start: &str) -> String {
            loop {
                match self.stdout.recv_timeout(STEP) {
                    Ok(line) if line.starts_with(start) => return line,
                    Ok(_) => continue,
                    Err(_) => panic!("no line starting {start:?} on standard output"),
                }
            }
        }

        /// Waits for a line of standard error containing `needle`.
        fn expect_log(&self, needle: &str) -> String {
            loop {
                match self.stderr.recv_timeout(STEP) {
                    Ok(line) if line.contains(needle) => return line,
                    Ok(_) => continue,
                    Err(_) => panic!("no log line containing {needle:?}"),
                }
            }
        }
    }

    /// A port free a moment ago, for the super-servers that cannot take port 0 and say which
    /// one they got (tcpsvd, systemd-socket-activate). A port taken in between makes the start
    /// fail, and it is tried again.
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port()
    }

    /// Starts a super-server on a free port: `command` given the port, `ready` as in
    /// [`Supervisor::start`]. Three tries.
    fn on_a_free_port(
        command: impl Fn(u16) -> Command,
        says: Says,
        ready: impl Fn(&str, u16) -> Option<Result<SocketAddr, String>>,
    ) -> Supervisor {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            match Supervisor::start(command(port), says, |line| ready(line, port)) {
                Ok(supervisor) => return supervisor,
                Err(why) => failures.push(why),
            }
        }
        panic!("the super-server did not start: {failures:?}");
    }

    /// `systemd-socket-activate -l 127.0.0.1:PORT ARGS soc_server SERVER_ARGS`.
    fn socket_activate(args: &[&str], server_args: &[&str]) -> Option<Supervisor> {
        let program = peer("systemd-socket-activate", "systemd")?;
        Some(on_a_free_port(
            |port| {
                let mut command = Command::new(&program);
                command
                    .arg(format!("--listen=127.0.0.1:{port}"))
                    .args(args)
                    .arg(SERVER)
                    .args(server_args);
                command
            },
            Says::OnStderr,
            |line, port| {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                match line {
                    _ if line.starts_with("Listening on") => Some(Ok(addr)),
                    _ if line.contains("Failed") => Some(Err(line.to_string())),
                    _ => None,
                }
            },
        ))
    }

    /// `tcpsvd -v 127.0.0.1 PORT soc_server --inetd SERVER_ARGS`.
    fn tcpsvd(server_args: &[&str]) -> Option<Supervisor> {
        let program = peer("tcpsvd", "ipsvd")?;
        Some(on_a_free_port(
            |port| {
                let mut command = Command::new(&program);
                command
                    .args(["-v", "127.0.0.1", &port.to_string(), SERVER, "--inetd"])
                    .args(server_args);
                command
            },
            Says::OnStdout,
            |line, port| match line {
                _ if line.contains("listening on") => {
                    Some(Ok(SocketAddr::from(([127, 0, 0, 1], port))))
                }
                _ if line.contains("fatal") => Some(Err(line.to_string())),
                _ => None,
            },
        ))
    }

    /// `socat -d -d -t 20 TCP-LISTEN:0,fork EXEC:'soc_server --inetdSERVER_ARGS'EXEC_OPTIONS`.
    /// (`-t`: socat gives the echo half a second after the client's end, by default, then cuts
    /// it; a busy machine takes longer.)
    fn socat(server_args: &str, exec_options: &str) -> Option<Supervisor> {
        let program = peer("socat", "socat")?;
        let mut command = Command::new(program);
        command.args([
            "-d",
            "-d",
            "-t",
            "20",
            "TCP-LISTEN:0,bind=127.0.0.1,fork,reuseaddr",
            &format!("EXEC:'{SERVER} --inetd{server_args}'{exec_options}"),
        ]);
        let supervisor = Supervisor::start(command, Says::OnStderr, |line| {
            let (_, addr) = line.split_once(" listening on AF=2 ")?;
            Some(addr.trim().parse().map_err(|_| line.to_string()))
        });
        Some(supervisor.expect("socat listens"))
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        crate::common::connect(addr)
    }

    /// 1 MiB byte for byte, twenty clients one after another, five at once: each connection is
    /// a soc_server of its own, which ends the echo when its client ends its sending.
    fn serves_like_a_server(at: &Supervisor) {
        let big = payload(1 << 20);
        let echoed = echo_concurrently(connect(at.addr), big.clone());
        assert!(
            echoed == big,
            "1 MiB differs: {} bytes came back",
            echoed.len()
        );
        for n in 0..20 {
            let line = format!("client {n}\n").into_bytes();
            assert_eq!(echo_concurrently(connect(at.addr), line.clone()), line);
        }
        let together: Vec<_> = (0..5)
            .map(|n| {
                let addr = at.addr;
                thread::spawn(move || {
                    let data = payload(65_536 + n);
                    echo_concurrently(connect(addr), data.clone()) == data
                })
            })
            .collect();
        for client in together {
            assert!(client.join().unwrap(), "an echo of five at once differs");
        }
    }

    #[test]
    fn inetd_mode_under_socat_echoes_like_a_server() {
        let Some(socat) = socat("", "") else { return };
        serves_like_a_server(&socat);
    }

    #[test]
    fn inetd_mode_under_tcpsvd_echoes_like_a_server_and_logs_to_standard_error() {
        let Some(tcpsvd) = tcpsvd(&[]) else { return };
        serves_like_a_server(&tcpsvd);
        tcpsvd.expect_log("disconnected: 1.0 MiB (1,048,576 bytes) echoed");
    }

    /// Under tcpsvd standard input is the socket itself, so the idle timeout can be set on it.
    #[test]
    fn inetd_mode_disconnects_an_idle_client() {
        let Some(tcpsvd) = tcpsvd(&["--idle-timeout", "0.2"]) else {
            return;
        };
        let idle = connect(tcpsvd.addr);
        assert!(read_to_end(&idle).is_empty());
        tcpsvd.expect_log("disconnected after 0.2 s idle (--idle-timeout)");
    }

    /// inetd and xinetd hand the socket over as standard error too: a log line there would
    /// reach the client in the middle of its echo. socat's `nofork,stderr` does the same.
    #[test]
    fn inetd_mode_logs_nothing_into_the_connection() {
        let Some(socat) = socat(" -vv", ",nofork,stderr") else {
            return;
        };
        let data = payload(10_000);
        let echoed = echo_concurrently(connect(socat.addr), data.clone());
        assert!(
            echoed == data,
            "{} bytes came back for {}: {:?}",
            echoed.len(),
            data.len(),
            String::from_utf8_lossy(&echoed[..echoed.len().min(200)])
        );
    }

    /// systemd's `Accept=yes`: a process per connection, the connection as standard input and
    /// output.
    #[test]
    fn inetd_mode_under_socket_activation_with_accept() {
        let Some(activate) = socket_activate(&["--accept", "--inetd"], &["--inetd"]) else {
            return;
        };
        serves_like_a_server(&activate);
    }

    #[test]
    fn a_stream_socket_handed_over_is_served_as_tcp_echo() {
        let Some(activate) = socket_activate(&[], &[]) else {
            return;
        };
        // systemd-socket-activate starts soc_server at the first connection.
        let stream = connect(activate.addr);
        let data = payload(100_000);
        assert!(echo_concurrently(stream, data.clone()) == data);
        // Said for the socket handed over, not for a port of its own (8888 by default).
        let said = activate.expect_output("listening on ");
        assert_eq!(said, format!("listening on {}", activate.addr));
        let second = connect(activate.addr);
        crate::common::sources::round_trip(&second);
    }

    #[test]
    fn a_datagram_socket_handed_over_is_served_as_udp_echo() {
        let Some(activate) = socket_activate(&["--datagram"], &[]) else {
            return;
        };
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(STEP)).unwrap();
        let mut buffer = [0u8; 64];
        // The first datagram starts soc_server, and waits for it in the socket.
        for text in [&b"first"[..], b"second"] {
            socket.send_to(text, activate.addr).unwrap();
            let (len, from) = socket.recv_from(&mut buffer).expect("an echo");
            assert_eq!((&buffer[..len], from), (text, activate.addr));
        }
        let said = activate.expect_output("listening on ");
        assert_eq!(said, format!("listening on udp {}", activate.addr));
    }

    /// contrib/systemd's units: systemd reads them without a complaint (with the built binary
    /// in ExecStart), and soc_server takes the flags their ExecStart gives it.
    #[test]
    fn the_systemd_units_verify_and_their_flags_are_soc_servers() {
        let contrib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
        let service = std::fs::read_to_string(contrib.join("soc-echo.service")).unwrap();
        let exec = service
            .lines()
            .find_map(|line| line.strip_prefix("ExecStart=/usr/local/bin/soc_server"))
            .expect("an ExecStart of soc_server");
        let flags: Vec<&str> = exec.split_whitespace().collect();
        let server = ServerProcess::start(&flags);
        crate::common::sources::round_trip(&connect(server.addr));
        let Some(analyze) = peer("systemd-analyze", "systemd") else {
            return;
        };
        let units = crate::common::TempDir::new("units");
        let socket = std::fs::read_to_string(contrib.join("soc-echo.socket")).unwrap();
        std::fs::write(units.path().join("soc-echo.socket"), socket).unwrap();
        let built = service.replace("/usr/local/bin/soc_server", SERVER);
        std::fs::write(units.path().join("soc-echo.service"), built).unwrap();
        let output = Command::new(analyze)
            .args(["verify", "--man=no"])
            .arg(units.path().join("soc-echo.socket"))
            .arg(units.path().join("soc-echo.service"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        let ours: Vec<&str> = said
            .lines()
            .filter(|line| line.contains("soc-echo"))
            .collect();
        assert!(output.status.success() && ours.is_empty(), "{said}");
    }

    /// What a broken hand-over looks like: a clear line and exit code 1, never a panic.
    #[test]
    fn descriptors_that_are_not_sockets_or_counts_that_are_not_numbers_are_refused() {
        for (setup, expected) in [
            (
                "LISTEN_FDS=1 exec 3</dev/null;",
                "descriptor 3, handed over, is not a socket",
            ),
            ("LISTEN_FDS=lots;", "LISTEN_FDS is not a number of sockets"),
            ("LISTEN_FDS=0;", "LISTEN_FDS is not a number of sockets"),
        ] {
            let script = format!("{setup} LISTEN_PID=$$ exec \"$0\"");
            let output = Command::new("sh")
                .args(["-c", &format!("export LISTEN_FDS; {script}"), SERVER])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{setup}: {stderr}");
            let last = stderr.lines().last().unwrap_or_default();
            assert!(
                last.starts_with("soc_server: error: ") && last.contains(expected),
                "{setup}: {stderr}"
            );
        }
    }

    #[test]
    fn inetd_mode_with_input_from_a_file_or_nothing_echoes_it_and_ends() {
        let data = payload(300_000);
        let mut child = Command::new(SERVER)
            .arg("--inetd")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let sent = data.clone();
        let writer = thread::spawn(move || stdin.write_all(&sent));
        let mut echoed = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut echoed)
            .unwrap();
        writer.join().unwrap().unwrap();
        assert!(echoed == data);
        assert!(crate::common::wait_with_deadline(&mut child, STEP).success());
        let empty = Command::new(SERVER)
            .arg("--inetd")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(empty.status.success() && empty.stdout.is_empty());
    }
}
