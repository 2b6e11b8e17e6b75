//! The marking a packet carries in its IP header: DSCP (RFC 2474's six bits, with the names of
//! RFC 2597, 3246, 5865 and 4594), ECN (RFC 3168's two bits), and the TTL or hop limit; and what
//! a client asks of its packets' path (`--dscp`, `--ecn`, `--ttl`, `--df`, `-4`/`-6`,
//! `--source`).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A DSCP value, 0 to 63.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dscp(u8);

/// The named code points: class selectors, assured forwarding, expedited forwarding, voice
/// admit.
const NAMED: [(&str, u8); 23] = [
    ("CS0", 0),
    ("CS1", 8),
    ("AF11", 10),
    ("AF12", 12),
    ("AF13", 14),
    ("CS2", 16),
    ("AF21", 18),
    ("AF22", 20),
    ("AF23", 22),
    ("CS3", 24),
    ("AF31", 26),
    ("AF32", 28),
    ("AF33", 30),
    ("CS4", 32),
    ("AF41", 34),
    ("AF42", 36),
    ("AF43", 38),
    ("CS5", 40),
    ("VA", 44),
    ("EF", 46),
    ("CS6", 48),
    ("CS7", 56),
    ("LE", 1),
];

impl Dscp {
    /// The code point of a traffic-class byte (its high six bits).
    pub fn of_class(class: u8) -> Dscp {
        Dscp(class >> 2)
    }

    pub fn value(self) -> u8 {
        self.0
    }
}

impl FromStr for Dscp {
    type Err = String;

    /// A name (`EF`, `AF41`, `CS0`, `VA`, `LE`, any case) or a number from 0 to 63.
    fn from_str(text: &str) -> Result<Dscp, String> {
        let text = text.trim();
        if let Some(&(_, value)) = NAMED
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
        {
            return Ok(Dscp(value));
        }
        match text.parse::<u8>() {
            Ok(value) if value < 64 => Ok(Dscp(value)),
            _ => Err(format!(
                "'{text}' is not a DSCP: a name (EF, AF11 to AF43, CS0 to CS7, VA, LE) or 0 to 63"
            )),
        }
    }
}

impl fmt::Display for Dscp {
    /// The name where the value has one, else the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match NAMED.iter().find(|&&(_, value)| value == self.0) {
            Some((name, _)) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// An ECN code point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecn {
    NotEct,
    Ect1,
    Ect0,
    Ce,
}

impl Ecn {
    /// The code point of a traffic-class byte (its low two bits).
    pub fn of_class(class: u8) -> Ecn {
        match class & 0b11 {
            0 => Ecn::NotEct,
            1 => Ecn::Ect1,
            2 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Ecn::NotEct => 0,
            Ecn::Ect1 => 1,
            Ecn::Ect0 => 2,
            Ecn::Ce => 3,
        }
    }
}

impl FromStr for Ecn {
    type Err = String;

    fn from_str(text: &str) -> Result<Ecn, String> {
        let words = text
            .trim()
            .to_ascii_lowercase()
            .replace(['(', ')', '_'], "");
        match words.as_str() {
            "not-ect" | "notect" | "0" => Ok(Ecn::NotEct),
            "ect1" | "1" => Ok(Ecn::Ect1),
            "ect0" | "2" => Ok(Ecn::Ect0),
            "ce" | "3" => Ok(Ecn::Ce),
            _ => Err(format!(
                "'{}' is not an ECN code point: not-ect, ect0, ect1 or ce",
                text.trim()
            )),
        }
    }
}

impl fmt::Display for Ecn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ecn::NotEct => "Not-ECT",
            Ecn::Ect1 => "ECT(1)",
            Ecn::Ect0 => "ECT(0)",
            Ecn::Ce => "CE",
        })
    }
}

/// The marking a datagram arrived with, as far as the system says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// The traffic-class byte: DSCP and ECN.
    pub class: Option<u8>,
    /// The TTL or hop limit.
    pub ttl: Option<u8>,
}

/// A traffic-class byte as people read it: `EF/ECT(1)`.
pub(crate) fn class_name(class: u8) -> String {
    format!("{}/{}", Dscp::of_class(class), Ecn::of_class(class))
}

/// Counts by traffic-class byte, most first: `EF/ECT(1) 20, CS0/Not-ECT 3` (`none` when empty).
pub(crate) fn classes_counted(classes: &std::collections::BTreeMap<u8, u64>) -> String {
    let mut counted: Vec<(u8, u64)> = classes.iter().map(|(&c, &n)| (c, n)).collect();
    counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let parts: Vec<String> = counted
        .iter()
        .map(|&(class, count)| format!("{} {}", class_name(class), crate::human::grouped(count)))
        .collect();
    match parts.is_empty() {
        true => "none".to_string(),
        false => parts.join(", "),
    }
}

/// Which address family a client uses when a name has both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

impl Family {
    /// Whether `addr` is of this family.
    pub fn admits(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

/// Whether a datagram may be fragmented on its way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fragmenting {
    /// As the system does by default.
    #[default]
    Allowed,
    /// Never: one too big for the path fails instead (`--df`).
    Forbidden,
}

/// What a client asks of its packets' path. The default asks nothing: the system's own marking,
/// source and family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathOptions {
    pub dscp: Option<Dscp>,
    pub ecn: Option<Ecn>,
    /// The TTL (IPv4) or hop limit (IPv6), 1 to 255.
    pub ttl: Option<u8>,
    pub fragmenting: Fragmenting,
    pub family: Family,
    /// The local address (and port, if not 0) to send from.
    pub source: Option<SocketAddr>,
}

impl PathOptions {
    /// The traffic-class byte to send with, when a DSCP or an ECN code point is asked (the other
    /// part then 0).
    pub fn class(&self) -> Option<u8> {
        if self.dscp.is_none() && self.ecn.is_none() {
            return None;
        }
        let dscp = self.dscp.map_or(0, Dscp::value);
        let ecn = self.ecn.map_or(0, Ecn::bits);
        Some(dscp << 2 | ecn)
    }

    /// Whether any marking is asked, so that what came back is worth showing.
    pub fn marks(&self) -> bool {
        self.class().is_some() || self.ttl.is_some()
    }

    pub(crate) fn marking(&self) -> crate::sys::datagram::Marking {
        crate::sys::datagram::Marking {
            tos: self.class(),
            ttl: self.ttl,
            dont_fragment: self.fragmenting == Fragmenting::Forbidden,
        }
    }
}

/// Why this system cannot set `--dscp` or `--ecn`, if it cannot (Windows).
pub fn traffic_class_unsupported() -> Option<&'static str> {
    crate::sys::datagram::traffic_class_unsupported()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dscp_names_and_numbers_read_and_show_alike() {
        for (text, value, shown) in [
            ("EF", 46, "EF"),
            ("af41", 34, "AF41"),
            ("CS0", 0, "CS0"),
            ("cs7", 56, "CS7"),
            ("VA", 44, "VA"),
            ("46", 46, "EF"),
            ("63", 63, "63"),
        ] {
            let dscp: Dscp = text.parse().unwrap();
            assert_eq!((dscp.value(), dscp.to_string().as_str()), (value, shown));
        }
        for garbage in ["64", "AF44", "", "-1", "EF1"] {
            assert!(garbage.parse::<Dscp>().is_err(), "{garbage}");
        }
        assert_eq!(Dscp::of_class(0xB9), Dscp(46));
    }

    #[test]
    fn ecn_reads_as_people_write_it_and_the_class_byte_combines_both() {
        assert_eq!("ECT(1)".parse::<Ecn>(), Ok(Ecn::Ect1));
        assert_eq!("not-ect".parse::<Ecn>(), Ok(Ecn::NotEct));
        assert_eq!("ce".parse::<Ecn>(), Ok(Ecn::Ce));
        assert!("ect2".parse::<Ecn>().is_err());
        let path = PathOptions {
            dscp: Some(Dscp(46)),
            ecn: Some(Ecn::Ect1),
            ..PathOptions::default()
        };
        assert_eq!(path.class(), Some(0xB9));
        assert_eq!(Ecn::of_class(0xB9), Ecn::Ect1);
        let ecn_only = PathOptions {
            ecn: Some(Ecn::Ce),
            ..PathOptions::default()
        };
        assert_eq!(ecn_only.class(), Some(3));
        assert_eq!(PathOptions::default().class(), None);
    }
}
