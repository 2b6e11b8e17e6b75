//! `-vv`: every chunk as a hex and ASCII dump on standard error, and the echo untouched.

use std::io::{Read, Write};

use crate::common::{client_at, connect, ServerProcess};
use soc::Pattern;

#[test]
fn server_dumps_what_each_client_sends_and_echoes_it_unchanged() {
    let server = ServerProcess::start(&["-vv"]);
    let stream = connect(server.addr);
    let me = stream.local_addr().unwrap();
    (&stream).write_all(b"dump me\x00\xff").unwrap();
    let mut echo = [0u8; 9];
    (&stream).read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"dump me\x00\xff");
    server.expect_log(&format!("< {me} 9 bytes"));
    let dump = server.expect_log("|dump me..|");
    assert!(
        dump.contains("00000000  64 75 6d 70 20 6d 65 00  ff"),
        "{dump}"
    );
}

#[test]
fn client_dumps_both_directions_and_prints_only_the_echo() {
    let server = ServerProcess::start(&[]);
    let run = client_at(server.addr, &["-vv", "-m", "hello"], Vec::new());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert_eq!(run.stdout, b"hello\n", "dumps never reach standard output");
    assert!(
        run.stderr.contains(&format!("> {} 6 bytes", server.addr)),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("< {} 6 bytes", server.addr)),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.matches("|hello.|").count(), 2, "{}", run.stderr);
}

#[test]
fn binary_data_piped_at_trace_level_comes_back_identical() {
    let server = ServerProcess::start(&["-vv"]);
    let input = Pattern::new(9).take(200_000);
    let run = client_at(server.addr, &["-vv"], input.clone());
    assert!(run.status.success(), "stderr: {}", run.stderr);
    assert!(run.stdout == input, "tracing changed the echo");
    assert!(run.stderr.contains("00000000  "), "no dump on stderr");
}
