//! The address rules: which resolved IP addresses the gateway may connect to.
//!
//! Everything that is not a globally routed unicast address is denied by
//! default — loopback, private, link-local, carrier-grade NAT, cloud metadata,
//! unique-local, unspecified, multicast, broadcast, documentation,
//! benchmarking and reserved ranges. IPv6 forms that carry an IPv4 address
//! (IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`) are judged by the IPv4
//! address they carry; deprecated embeddings (IPv4-compatible `::/96`, 6to4,
//! Teredo) are denied outright. A policy can re-allow ranges explicitly
//! ([`check_ip`]'s `allowed`), which is how tests reach `127.0.0.1`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// What the default rules think of one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Globally routed unicast: allowed.
    Public,
    /// An IPv6 address standing for this IPv4 address: judge that one.
    Embeds(Ipv4Addr),
    /// Denied by default, with a short reason (`"loopback"`, `"private"` …).
    Denied(&'static str),
}

fn v4_in(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v6_in(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    const RULES: &[([u8; 4], u32, &str)] = &[
        ([169, 254, 169, 254], 32, "cloud metadata"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([0, 0, 0, 0], 8, "this-network (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "carrier-grade nat"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "ietf protocol assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RULES
        .iter()
        .find(|(net, prefix, _)| v4_in(ip, *net, *prefix))
        .map_or(Class::Public, |(_, _, why)| Class::Denied(why))
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    if ip.is_unspecified() {
        return Class::Denied("unspecified");
    }
    if ip.is_loopback() {
        return Class::Denied("loopback");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Class::Embeds(v4);
    }
    let [a, b, c, d, e, f, g, h] = ip.segments();
    if [a, b, c, d, e] == [0x64, 0xff9b, 0, 0, 0] && f == 0 {
        let v4 = (u32::from(g) << 16) | u32::from(h);
        return Class::Embeds(Ipv4Addr::from(v4));
    }
    const RULES: &[([u16; 8], u32, &str)] = &[
        ([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128, "cloud metadata"),
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, "ipv4-compatible (deprecated)"),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use nat64"),
        ([0, 0, 0, 0, 0, 0, 0, 0], 8, "reserved"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "ietf protocol assignment",
        ),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4 (deprecated)"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    ];
    RULES
        .iter()
        .find(|(net, prefix, _)| v6_in(ip, *net, *prefix))
        .map_or(Class::Public, |(_, _, why)| Class::Denied(why))
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Checks one resolved address: `Ok(())` when the gateway may connect to it,
/// otherwise a short reason such as `address 10.0.0.5 is private`.
///
/// `allowed` ranges win over the default rules; for IPv6 addresses that carry
/// an IPv4 address, both the IPv6 address and the carried IPv4 address may be
/// allowed explicitly.
pub fn check_ip(ip: IpAddr, allowed: &[IpNet]) -> Result<(), String> {
    if allowed.iter().any(|net| net.contains(&ip)) {
        return Ok(());
    }
    match classify(ip) {
        Class::Public => Ok(()),
        Class::Denied(why) => Err(format!("address {ip} is {why}")),
        Class::Embeds(v4) => check_ip(IpAddr::V4(v4), allowed)
            .map_err(|why| format!("address {ip} embeds a denied ipv4 address: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(s: &str) -> String {
        check_ip(s.parse().unwrap(), &[]).unwrap_err()
    }

    fn allowed(s: &str) -> bool {
        check_ip(s.parse().unwrap(), &[]).is_ok()
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(allowed(ip), "{ip}");
        }
    }

    #[test]
    fn ipv4_default_deny_ranges() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.5", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "cloud metadata"),
            ("100.64.0.1", "carrier-grade nat"),
            ("100.127.255.255", "carrier-grade nat"),
            ("0.0.0.0", "this-network"),
            ("0.1.2.3", "this-network"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("240.0.0.1", "reserved"),
        ];
        for (ip, why) in cases {
            let reason = denied(ip);
            assert!(reason.contains(why), "{ip}: {reason}");
        }
        // Neighbours of denied ranges stay public.
        for ip in ["172.32.0.1", "100.128.0.1", "11.0.0.1", "192.169.0.1"] {
            assert!(allowed(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_default_deny_ranges() {
        let cases = [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fd00:ec2::254", "cloud metadata"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("::7f00:1", "ipv4-compatible"),
            ("2002:7f00:1::1", "6to4"),
            ("2001::1", "ietf protocol assignment"),
            ("64:ff9b:1::1", "local-use nat64"),
            ("fec0::1", "site-local"),
        ];
        for (ip, why) in cases {
            let reason = denied(ip);
            assert!(reason.contains(why), "{ip}: {reason}");
        }
    }

    #[test]
    fn embedded_ipv4_is_checked() {
        let reason = denied("::ffff:127.0.0.1");
        assert!(
            reason.contains("embeds") && reason.contains("loopback"),
            "{reason}"
        );
        let reason = denied("::ffff:169.254.169.254");
        assert!(reason.contains("cloud metadata"), "{reason}");
        let reason = denied("64:ff9b::10.0.0.1");
        assert!(reason.contains("private"), "{reason}");
        assert!(allowed("::ffff:8.8.8.8"));
        assert!(allowed("64:ff9b::8.8.8.8"));
    }

    #[test]
    fn explicit_ranges_override_the_default_deny() {
        let allow: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(check_ip("127.0.0.1".parse().unwrap(), &allow).is_ok());
        assert!(check_ip("::ffff:127.0.0.1".parse().unwrap(), &allow).is_ok());
        assert!(check_ip("10.0.0.1".parse().unwrap(), &allow).is_err());
        assert!(check_ip("::1".parse().unwrap(), &allow).is_err());
    }
}
