//! The point the Python pair was written to make: any client talks to any server. A client
//! written with Python's `socket` module against soc_server, and soc_client against a Python
//! echo server written the way the originals are.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{client_at, wait_with_deadline, ServerProcess, STEP};
use soc::Pattern;

/// A command that runs Python 3: `python3` (Linux, macOS), `python` or `py -3` (Windows).
///
/// With none of them these tests fail, saying what to install: a test that cannot run its
/// subject must not pass. (The Windows run under Wine, which has no Python, leaves them out by
/// name: `scripts/crosscheck/run`.)
fn python() -> Command {
    let candidates: [(&str, &[&str]); 3] = [("python3", &[]), ("python", &[]), ("py", &["-3"])];
    for (program, args) in candidates {
        let found = Command::new(program)
            .args(args)
            .args(["-c", "import sys; sys.exit(sys.version_info[0] != 3)"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if found {
            let mut command = Command::new(program);
            command.args(args);
            return command;
        }
    }
    panic!(
        "these tests run Python 3 and found none (tried python3, python, py -3): install \
         python3 (Debian/Ubuntu: apt-get install python3; macOS: xcode-select --install; \
         Windows: winget install Python.Python.3)"
    );
}

fn python_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn python_socket_client_against_soc_server() {
    let server = ServerProcess::start(&[]);
    let mut python = python()
        .arg(python_script("client.py"))
        .arg(server.addr.port().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python client");
    let status = wait_with_deadline(&mut python, STEP);
    let output = python.wait_with_output().unwrap();
    assert!(
        status.success(),
        "python client failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stats = server.expect_log("disconnected: 23 bytes echoed");
    assert!(stats.contains("127.0.0.1:"), "{stats}");
}

fn python_echo_server() -> ServerProcess {
    let mut command = python();
    command.arg(python_script("echo_server.py"));
    ServerProcess::spawn(command)
}

#[test]
fn soc_client_piped_mode_against_a_python_echo_server() {
    let server = python_echo_server();
    let input = Pattern::new(862).take(4 << 20);
    let run = client_at(server.addr, &[], input.clone());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert!(run.stdout == input, "the echo through Python differs");
}

#[test]
fn soc_client_message_against_a_python_echo_server() {
    let server = python_echo_server();
    let run = client_at(server.addr, &["-m", "hello from Rust"], Vec::new());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, b"hello from Rust\n");
}
