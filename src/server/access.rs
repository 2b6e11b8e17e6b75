//! Who may use the service: `--allow` and `--deny`, address ranges (CIDR) that a client's or a
//! datagram's source is held to before anything else is done with it.

use std::net::IpAddr;

use ipnet::IpNet;

/// The ranges allowed and denied. With any allowed range, only those are served; a denied range
/// wins over an allowed one. An IPv4-mapped IPv6 address (what a `::` listener sees for an IPv4
/// client) counts as its IPv4 address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl Access {
    /// Rules from `allow` and `deny`.
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Access {
        Access { allow, deny }
    }

    /// Whether there is any rule (without, everyone is served, and nothing is said of it).
    pub fn has_rules(&self) -> bool {
        !self.allow.is_empty() || !self.deny.is_empty()
    }

    /// Whether `peer` may use the service.
    pub fn permits(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        let within = |ranges: &[IpNet]| ranges.iter().any(|range| range.contains(&peer));
        !within(&self.deny) && (self.allow.is_empty() || within(&self.allow))
    }
}

/// What the log says of the rules: `serving only 10.0.0.0/8, ::1/128; never 10.0.0.7/32`.
impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |ranges: &[IpNet]| {
            ranges
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.allow.is_empty(), self.deny.is_empty()) {
            (true, true) => write!(f, "serving everyone"),
            (false, true) => write!(f, "serving only {}", list(&self.allow)),
            (true, false) => write!(f, "serving everyone but {}", list(&self.deny)),
            (false, false) => write!(
                f,
                "serving only {}, but never {}",
                list(&self.allow),
                list(&self.deny)
            ),
        }
    }
}

/// Reads a range as `--allow` and `--deny` take it: `10.0.0.0/8`, `2001:db8::/32`, or one
/// address (`192.0.2.1`, `::1`), which is a range of one.
pub fn parse_range(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    text.parse::<IpNet>()
        .map(|range| range.trunc())
        .map_err(|_| {
            format!("'{text}' is not an address range (e.g. 10.0.0.0/8, ::1/128, 192.0.2.7)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(texts: &[&str]) -> Vec<IpNet> {
        texts
            .iter()
            .map(|text| parse_range(text).unwrap())
            .collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn with_an_allow_only_those_are_served_and_a_deny_wins() {
        let open = Access::default();
        assert!(open.permits(ip("192.0.2.1")) && !open.has_rules());
        let lab = Access::new(ranges(&["10.0.0.0/8", "::1"]), ranges(&["10.0.0.7"]));
        assert!(lab.permits(ip("10.1.2.3")));
        assert!(
            !lab.permits(ip("10.0.0.7")),
            "denied within an allowed range"
        );
        assert!(!lab.permits(ip("192.0.2.1")), "not allowed");
        assert!(lab.permits(ip("::1")));
        assert!(!lab.permits(ip("::2")));
        // An IPv4 client seen by a dual-stack listener.
        assert!(lab.permits(ip("::ffff:10.9.9.9")));
        assert!(!lab.permits(ip("::ffff:10.0.0.7")));
        let deny_only = Access::new(Vec::new(), ranges(&["127.0.0.2/32"]));
        assert!(deny_only.permits(ip("127.0.0.1")) && !deny_only.permits(ip("127.0.0.2")));
    }

    #[test]
    fn ranges_read_with_or_without_a_prefix_and_garbage_says_why() {
        assert_eq!(parse_range("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_range("::1").unwrap().to_string(), "::1/128");
        assert!(parse_range("10.0.0.0/33")
            .unwrap_err()
            .contains("is not an address range"));
        assert!(parse_range("lab").is_err());
    }
}
