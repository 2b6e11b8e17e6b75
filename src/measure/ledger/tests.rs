//! The ledger's rules, datagram by datagram.

use super::*;

const TIMEOUT: Duration = Duration::from_millis(100);

fn ledger() -> Ledger {
    Ledger::new(
        Layout::Timed,
        Message::new(Layout::Timed, 3, 32),
        1,
        TIMEOUT,
    )
}

/// Sends one datagram `at` after `start` and returns its bytes.
fn send(ledger: &mut Ledger, start: Instant, at: Duration) -> Vec<u8> {
    let bytes = ledger.next_datagram(start + at).to_vec();
    ledger.sent(start + at);
    bytes
}

#[test]
fn every_fate_is_told_apart_and_counted_once() {
    let mut ledger = ledger();
    let start = ledger.epoch;
    let ms = Duration::from_millis;
    let datagrams: Vec<Vec<u8>> = (0..6).map(|i| send(&mut ledger, start, ms(i))).collect();
    // 2 comes before 1: 1 is out of order.
    assert!(matches!(
        ledger.receive(&datagrams[1], start + ms(5), Marks::default()),
        Fate::Echoed {
            seq: 2,
            out_of_order: false,
            ..
        }
    ));
    assert!(matches!(
        ledger.receive(&datagrams[0], start + ms(6), Marks::default()),
        Fate::Echoed {
            seq: 1,
            out_of_order: true,
            ..
        }
    ));
    assert!(matches!(
        ledger.receive(&datagrams[0], start + ms(7), Marks::default()),
        Fate::Duplicate { seq: 1, .. }
    ));
    let mut altered = datagrams[2].clone();
    altered[20] ^= 1;
    assert_eq!(
        ledger.receive(&altered, start + ms(8), Marks::default()),
        Fate::Corrupted {
            seq: 3,
            differing: 1
        }
    );
    // A send time that is not the one sent is an alteration too.
    let mut retimed = datagrams[3].clone();
    retimed[15] ^= 1;
    assert!(matches!(
        ledger.receive(&retimed, start + ms(8), Marks::default()),
        Fate::Corrupted { seq: 4, .. }
    ));
    assert_eq!(
        ledger.receive(b"xyz", start + ms(9), Marks::default()),
        Fate::Stray { bytes: 3 }
    );
    // 5 and 6 pass their timeout; 6's echo comes after all.
    let mut lost = Vec::new();
    ledger.expire(start + ms(150), |fate| lost.push(fate));
    assert_eq!(lost, [Fate::Lost { seq: 5 }, Fate::Lost { seq: 6 }]);
    assert!(!ledger.awaiting());
    assert!(matches!(
        ledger.receive(&datagrams[5], start + ms(160), Marks::default()),
        Fate::Late {
            seq: 6,
            after: Some(_)
        }
    ));
    let counts = ledger.counts();
    assert_eq!(
        (counts.sent, counts.echoed, counts.lost, counts.late),
        (6, 2, 1, 1)
    );
    assert_eq!(
        (counts.duplicates, counts.out_of_order, counts.corrupted),
        (1, 1, 3)
    );
}

#[test]
fn an_intact_echo_older_than_the_records_is_late_or_a_duplicate_never_corrupted() {
    let mut ledger = ledger();
    let start = ledger.epoch;
    let lost = send(&mut ledger, start, Duration::ZERO);
    let answered = send(&mut ledger, start, Duration::ZERO);
    ledger.receive(&answered, start, Marks::default());
    ledger.expire(start + TIMEOUT * 3, |_| {});
    assert_eq!(ledger.counts().lost, 1);
    // Both records are forgotten now.
    assert_eq!(ledger.records.len(), 0);
    assert_eq!(
        ledger.receive(&lost, start + TIMEOUT * 4, Marks::default()),
        Fate::Late {
            seq: 1,
            after: Some(TIMEOUT * 4)
        }
    );
    assert_eq!(
        ledger.receive(&answered, start + TIMEOUT * 4, Marks::default()),
        Fate::Duplicate {
            seq: 2,
            after: Some(TIMEOUT * 4)
        }
    );
    let counts = ledger.counts();
    assert_eq!(
        (
            counts.lost,
            counts.late,
            counts.duplicates,
            counts.corrupted
        ),
        (0, 1, 1, 0)
    );
    let mut altered = lost.clone();
    altered[30] ^= 1;
    assert!(matches!(
        ledger.receive(&altered, start + TIMEOUT * 4, Marks::default()),
        Fate::Corrupted { seq: 1, .. }
    ));
}

#[test]
fn only_the_counted_range_is_counted() {
    let mut ledger = ledger();
    let start = ledger.epoch;
    ledger.count_only(2..3);
    let first = send(&mut ledger, start, Duration::ZERO);
    let second = send(&mut ledger, start, Duration::ZERO);
    ledger.receive(&first, start, Marks::default());
    ledger.receive(&second, start, Marks::default());
    let counts = ledger.counts();
    assert_eq!((counts.sent, counts.echoed), (1, 1));
}

#[test]
fn jitter_follows_rfc_3550() {
    let ms = Duration::from_millis;
    let mut jitter = Jitter::default();
    assert_eq!(jitter.estimate_ms(), None);
    jitter.arrive(ms(10));
    assert_eq!(jitter.estimate_ms(), None);
    jitter.arrive(ms(12)); // |D| = 2 ms: J = 2/16
    jitter.arrive(ms(8)); // |D| = 4 ms: J = 2/16 + (4 - 2/16)/16
    let expected = 2.0 / 16.0;
    let expected = expected + (4.0 - expected) / 16.0;
    let estimate = jitter.estimate_ms().unwrap();
    assert!(
        (estimate - expected).abs() < 1e-12,
        "{estimate} against {expected}"
    );
}
