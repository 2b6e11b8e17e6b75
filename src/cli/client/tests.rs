//! The rules of soc_client's command line, each tried without running the binary.

use std::time::Duration;

use clap::error::ErrorKind;

use super::*;

fn parse(line: &str) -> Result<ClientRequest, clap::Error> {
    ClientRequest::parse_from(std::iter::once("soc_client").chain(line.split_whitespace()))
}

/// The usage error `line` makes, as clap would print it.
fn refused(line: &str) -> String {
    match parse(line) {
        Ok(request) => panic!("{line:?} was taken: {request:?}"),
        Err(err) => {
            assert_eq!(err.exit_code(), 2, "{line:?}: {err}");
            err.to_string()
        }
    }
}

#[test]
fn a_mistyped_subcommand_is_one_with_its_suggestion_and_the_way_out() {
    let err = parse("pnig").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
    let text = err.to_string();
    assert!(text.contains("'pnig'") && text.contains("ping"), "{text}");
    assert!(text.contains("--host pnig"), "{text}");
    assert!(parse("--host pnig").is_ok(), "a host said to be one");
    assert!(parse("benchmark").is_err());
    assert!(parse("example.test").is_ok(), "a host name is no typo");
}

#[test]
fn a_message_does_not_go_with_a_subcommand() {
    assert!(refused("-m hi ping").contains("-m/--message cannot be used with a subcommand"));
}

#[test]
fn udp_measuring_needs_a_timeout() {
    for line in ["ping -u --timeout 0", "bench -u --rate 1k --timeout 0"] {
        assert!(
            refused(line).contains("--timeout 0 does not go with -u"),
            "{line}"
        );
    }
    // Without -u, 0 means: wait forever.
    assert!(parse("ping --timeout 0").is_ok());
}

#[test]
fn connect_probes_are_tcp_however_udp_is_asked() {
    assert!(refused("-u ping --connect").contains("--connect times TCP handshakes"));
}

#[test]
fn sizes_are_checked_against_what_each_message_carries() {
    assert!(refused("ping -u -s 15").contains("-s 15: a UDP probe"));
    assert!(refused("bench -u --rate 1k -s 7").contains("-s 7: a datagram here"));
    assert!(refused("bench -s 17M").contains("holds at most"));
    assert!(refused("-u -s 70000").contains("at most 65507 bytes"));
    assert!(parse("ping -u -s 16").is_ok());
    assert!(
        parse("bench -s 1").is_ok(),
        "a stream message of one byte is checked too"
    );
}

#[test]
fn closed_loop_udp_is_refused_saying_why() {
    assert!(refused("bench -u").contains("closed-loop UDP makes no sense"));
}

#[test]
fn ping_q_is_ping8s_and_json_wins() {
    let shown = |line: &str| match parse(line).unwrap().mode {
        ClientMode::Ping(ping) => ping.report.shown,
        other => panic!("{other:?}"),
    };
    assert_eq!(shown("ping"), Shown::Everything);
    assert_eq!(shown("ping -q"), Shown::Summary);
    assert_eq!(shown("-q ping --json"), Shown::Json);
}

#[test]
fn the_host_may_come_before_or_after_the_subcommand_but_must_agree() {
    let request = parse("ping example.test 7").unwrap();
    assert_eq!((request.host.as_str(), request.port), ("example.test", 7));
    let request = parse("example.test 7 bench").unwrap();
    assert_eq!((request.host.as_str(), request.port), ("example.test", 7));
    assert!(refused("a ping b").contains("the host is given twice: a and b"));
}

#[test]
fn bench_defaults_are_the_ones_its_help_gives() {
    match parse("bench").unwrap().mode {
        ClientMode::Bench(BenchRequest {
            workload: Workload::PingPong(options),
            ..
        }) => {
            assert_eq!(
                (options.connections, options.size, options.threads),
                (50, 64, 1)
            );
            assert_eq!(options.duration, Duration::from_secs(10));
            assert_eq!(options.warmup, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_open_loop_run_chooses_its_threads_unless_told() {
    let rate = |line: &str| match parse(line).unwrap().mode {
        ClientMode::Bench(BenchRequest {
            workload: Workload::Rate { options, udp },
            ..
        }) => (options.threads, udp),
        other => panic!("{other:?}"),
    };
    assert_eq!(rate("bench --rate 10k -t 3"), (3, false));
    assert_eq!(
        rate("bench --rate 10k").0,
        open_loop::threads_for(10_000.0, 50)
    );
    assert_eq!(rate("bench --rate 100 -c 1").0, 1, "one flow, one thread");
    assert!(rate("-u bench --rate 1k").1, "-u before the subcommand");
}
