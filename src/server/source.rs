//! What one source is, for the per-source client limit: one host, as far as its address tells.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host a connection comes from.
///
/// An IPv4 address is one host. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, which a
/// dual-stack `::` listener sees for IPv4 clients) is the IPv4 address it carries. An IPv6
/// address counts by its /64 prefix: one IPv6 host normally holds a whole /64 (SLAAC, privacy
/// addresses) and can take a fresh address for every connection, so counting addresses would
/// count nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Source {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6Prefix(u64),
}

impl Source {
    pub(super) fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4),
                None => Source::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::V4(v4) => write!(f, "{v4}"),
            Source::V6Prefix(prefix) => {
                write!(f, "{}/64", Ipv6Addr::from(u128::from(*prefix) << 64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Source {
        Source::of(text.parse().unwrap())
    }

    #[test]
    fn ipv6_addresses_in_one_64_are_one_source() {
        assert_eq!(
            of("2001:db8:1:2::1"),
            of("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(of("2001:db8:1:2::1"), of("2001:db8:1:3::1"));
        assert_eq!(of("2001:db8:1:2::7").to_string(), "2001:db8:1:2::/64");
        assert_eq!(of("::1").to_string(), "::/64");
    }

    #[test]
    fn an_ipv4_mapped_address_is_its_ipv4_address() {
        assert_eq!(of("::ffff:192.0.2.1"), of("192.0.2.1"));
        assert_eq!(of("::ffff:192.0.2.1").to_string(), "192.0.2.1");
        assert_ne!(of("192.0.2.1"), of("192.0.2.2"));
        // Not mapped: an IPv6 address like any other.
        assert_eq!(of("64:ff9b::c000:201").to_string(), "64:ff9b::/64");
    }
}
