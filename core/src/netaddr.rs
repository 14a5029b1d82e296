//! Client addresses as limits count them, and networks as the configuration names them.

use std::net::{IpAddr, Ipv6Addr};

/// The key a client is counted under: its IPv4 address, or the /64 its IPv6 address is in.
/// One IPv6 host usually holds a whole /64, so counting single addresses would let it open
/// 2^64 times the connections and failed logins of anyone else.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// "192.168.1.0/24", "2001:db8::/32", or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Network, String> {
        let (a, p) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| "not an IP address or network (e.g. 192.168.1.0/24)".to_string())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }

    /// The first and last address of the network as IPv6 numbers (IPv4 mapped into
    /// ::ffff:0:0/96), the form the block lists are kept and compared in.
    pub fn range(&self) -> (u128, u128) {
        let (base, bits) = match self.addr.to_canonical() {
            IpAddr::V4(v4) => (u128::from(v4.to_ipv6_mapped()), 96 + self.prefix as u32),
            IpAddr::V6(v6) => (u128::from(v6), self.prefix as u32),
        };
        let host = u128::MAX.checked_shr(bits.min(128)).unwrap_or(0);
        (base & !host, base | host)
    }

    /// One address, not a range.
    pub fn is_single(&self) -> bool {
        let (lo, hi) = self.range();
        lo == hi
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Whether `ip` is in one of the networks a setting lists ("127.0.0.0/8", "::1"); entries that
/// do not parse (refused when the configuration is loaded) match nothing.
pub fn listed(networks: &[String], ip: IpAddr) -> bool {
    networks
        .iter()
        .any(|n| Network::parse(n).is_ok_and(|n| n.contains(ip)))
}

/// The first entry of a network list that does not parse, with why.
pub fn first_invalid(networks: &[String]) -> Option<(&str, String)> {
    networks
        .iter()
        .find_map(|n| Network::parse(n).err().map(|e| (n.as_str(), e)))
}

/// An address as the number `Network::range` compares it with.
pub fn ip_number(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// "192.0.2.0/24" with the host bits cleared; a single address without its prefix.
impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (lo, _) = self.range();
        let v6 = Ipv6Addr::from(lo);
        let first = match v6.to_ipv4_mapped() {
            Some(v4) if self.addr.to_canonical().is_ipv4() => IpAddr::V4(v4),
            _ => IpAddr::V6(v6),
        };
        if self.is_single() {
            write!(f, "{first}")
        } else {
            write!(f, "{first}/{}", self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_slash_64_and_ipv4_by_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ranges_and_their_names() {
        let n = Network::parse("192.0.2.77/24").unwrap();
        assert_eq!(n.to_string(), "192.0.2.0/24");
        let (lo, hi) = n.range();
        assert_eq!(hi - lo, 255);
        assert!((lo..=hi).contains(&ip_number("192.0.2.9".parse().unwrap())));
        assert!(!(lo..=hi).contains(&ip_number("192.0.3.1".parse().unwrap())));
        let one = Network::parse("2001:db8::1").unwrap();
        assert!(one.is_single());
        assert_eq!(one.to_string(), "2001:db8::1");
        assert_eq!(Network::parse("::/0").unwrap().range(), (0, u128::MAX));
        assert_eq!(Network::parse("10.1.2.3").unwrap().to_string(), "10.1.2.3");
    }

    #[test]
    fn networks() {
        let n = Network::parse("192.168.1.0/24").unwrap();
        assert!(n.contains("192.168.1.200".parse().unwrap()));
        assert!(!n.contains("192.168.2.1".parse().unwrap()));
        assert!(
            Network::parse("::1")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("nonsense").is_err());
    }
}
