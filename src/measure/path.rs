//! What the path did to a datagram's marking: the DSCP, ECN and TTL (hop limit) the echoes came
//! back with, counted, next to what they were sent with. A marking that came back changed is
//! reported, never a failure: an objective (`--slo`) can make it one.

use std::collections::BTreeMap;

use crate::net::{Dscp, Ecn, Marks, PathOptions};

/// The echoes' marking, counted: each echo once, as it arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathSeen {
    /// Echoes by the DSCP they came back with.
    pub dscp: BTreeMap<Dscp, u64>,
    /// Echoes by the ECN code point they came back with.
    pub ecn: BTreeMap<Ecn, u64>,
    /// Echoes by the TTL or hop limit they came back with.
    pub ttl: BTreeMap<u8, u64>,
    /// Echoes whose traffic class the system did not say.
    pub class_unknown: u64,
    /// Echoes whose TTL the system did not say.
    pub ttl_unknown: u64,
}

impl PathSeen {
    /// Counts one echo that arrived with `marks`.
    pub(crate) fn add(&mut self, marks: Marks) {
        match marks.class {
            Some(class) => {
                *self.dscp.entry(Dscp::of_class(class)).or_default() += 1;
                *self.ecn.entry(Ecn::of_class(class)).or_default() += 1;
            }
            None => self.class_unknown += 1,
        }
        match marks.ttl {
            Some(ttl) => *self.ttl.entry(ttl).or_default() += 1,
            None => self.ttl_unknown += 1,
        }
    }

    /// Adds `other`'s counts (runs merged, sockets of one run).
    pub fn merge(&mut self, other: &PathSeen) {
        fn add<K: Ord + Copy>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
            for (&key, &count) in from {
                *into.entry(key).or_default() += count;
            }
        }
        add(&mut self.dscp, &other.dscp);
        add(&mut self.ecn, &other.ecn);
        add(&mut self.ttl, &other.ttl);
        self.class_unknown += other.class_unknown;
        self.ttl_unknown += other.ttl_unknown;
    }

    /// Echoes counted.
    pub fn echoes(&self) -> u64 {
        self.dscp.values().sum::<u64>() + self.class_unknown
    }
}

/// What the datagrams were sent with, and what their echoes came back with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathReport {
    /// The DSCP asked for (`None`: the system's default, not set).
    pub dscp_sent: Option<Dscp>,
    pub ecn_sent: Option<Ecn>,
    pub ttl_sent: Option<u8>,
    pub seen: PathSeen,
}

impl PathReport {
    pub fn new(path: &PathOptions, seen: PathSeen) -> PathReport {
        // A class byte is sent whole: asking for one part sends 0 in the other.
        let class = path.class();
        PathReport {
            dscp_sent: class.map(Dscp::of_class),
            ecn_sent: class.map(Ecn::of_class),
            ttl_sent: path.ttl,
            seen,
        }
    }

    /// Adds `other`'s echoes; a marking sent differently by the two is no longer one marking.
    pub fn merge(&mut self, other: &PathReport) {
        self.seen.merge(&other.seen);
        if self.dscp_sent != other.dscp_sent || self.ecn_sent != other.ecn_sent {
            (self.dscp_sent, self.ecn_sent) = (None, None);
        }
        if self.ttl_sent != other.ttl_sent {
            self.ttl_sent = None;
        }
    }

    /// Whether a marking was asked, so that what came back is worth a line in the summary.
    pub fn asked(&self) -> bool {
        self.dscp_sent.is_some() || self.ttl_sent.is_some()
    }

    /// The summary's lines: `dscp: sent EF, came back EF 20 of 20`, `ecn: ...`, `ttl of
    /// echoes: 61–64`.
    pub fn lines(&self) -> Vec<String> {
        let echoes = self.seen.echoes();
        let unknown = "not available on this system";
        let mut lines = Vec::new();
        if let (Some(dscp), Some(ecn)) = (self.dscp_sent, self.ecn_sent) {
            let readable = self.seen.class_unknown < echoes || echoes == 0;
            let dscp_back = match readable {
                true => came_back(&self.seen.dscp, dscp, echoes),
                false => unknown.to_string(),
            };
            let ecn_back = match readable {
                true => came_back(&self.seen.ecn, ecn, echoes),
                false => unknown.to_string(),
            };
            lines.push(format!("dscp: sent {dscp}, {dscp_back}"));
            lines.push(format!("ecn: sent {ecn}, {ecn_back}"));
        }
        if self.asked() {
            let ttls = match (self.seen.ttl.keys().min(), self.seen.ttl.keys().max()) {
                (Some(low), Some(high)) if low == high => low.to_string(),
                (Some(low), Some(high)) => format!("{low}\u{2013}{high}"),
                _ if echoes == 0 => "no echo".to_string(),
                _ => unknown.to_string(),
            };
            let sent = self.ttl_sent.map(|ttl| format!(" (sent with {ttl})"));
            lines.push(format!("ttl of echoes: {ttls}{}", sent.unwrap_or_default()));
        }
        lines
    }
}

/// `came back EF 17, CS0 3 of 20`, and `: changed on the way` when any differs from `sent`.
fn came_back<T: Ord + Copy + std::fmt::Display>(
    counts: &BTreeMap<T, u64>,
    sent: T,
    echoes: u64,
) -> String {
    if echoes == 0 {
        return "no echo came back".to_string();
    }
    let mut by_count: Vec<(T, u64)> = counts.iter().map(|(&k, &n)| (k, n)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let parts: Vec<String> = by_count
        .iter()
        .map(|(value, count)| format!("{value} {}", crate::human::grouped(*count)))
        .collect();
    let changed = by_count.iter().any(|&(value, _)| value != sent);
    format!(
        "came back {} of {}{}",
        parts.join(", "),
        crate::human::grouped(echoes),
        if changed { ": changed on the way" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(marks: &[(Option<u8>, Option<u8>)]) -> PathSeen {
        let mut seen = PathSeen::default();
        for &(class, ttl) in marks {
            seen.add(Marks { class, ttl });
        }
        seen
    }

    fn asked(dscp: &str, ecn: &str) -> PathOptions {
        PathOptions {
            dscp: Some(dscp.parse().unwrap()),
            ecn: Some(ecn.parse().unwrap()),
            ..PathOptions::default()
        }
    }

    #[test]
    fn what_came_back_is_counted_by_value_and_a_change_is_said() {
        // 17 kept EF/ECT(1), 3 were marked CE on the way.
        let mut marks = vec![(Some(0xB9), Some(64)); 17];
        marks.extend([(Some(0xBB), Some(62)); 3]);
        let report = PathReport::new(&asked("EF", "ect1"), seen(&marks));
        assert_eq!(
            report.lines(),
            [
                "dscp: sent EF, came back EF 20 of 20",
                "ecn: sent ECT(1), came back ECT(1) 17, CE 3 of 20: changed on the way",
                "ttl of echoes: 62\u{2013}64",
            ]
        );
    }

    #[test]
    fn a_cleared_dscp_and_a_system_that_says_nothing_read_as_such() {
        let cleared = PathReport::new(&asked("AF41", "not-ect"), seen(&[(Some(0), Some(64)); 5]));
        assert_eq!(
            cleared.lines()[0],
            "dscp: sent AF41, came back CS0 5 of 5: changed on the way"
        );
        let silent = PathReport::new(&asked("EF", "ect0"), seen(&[(None, None); 4]));
        assert_eq!(
            silent.lines(),
            [
                "dscp: sent EF, not available on this system",
                "ecn: sent ECT(0), not available on this system",
                "ttl of echoes: not available on this system",
            ]
        );
        assert!(PathReport::new(&PathOptions::default(), seen(&[]))
            .lines()
            .is_empty());
    }
}
