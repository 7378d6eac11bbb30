//! The address ranges that are not public unicast, each named for the
//! operator: the default egress policy refuses them all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public unicast one: the rule, named for the
/// operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// 0.0.0.0/8, `::`.
    Unspecified,
    /// 127.0.0.0/8, `::1`.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16.
    Private,
    /// 100.64.0.0/10.
    SharedCgnat,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18.0.0/15, 2001:2::/48.
    Benchmarking,
    /// 192.0.0.0/24, 192.88.99.0/24, 240.0.0.0/4, fec0::/10, and IPv6
    /// outside the global unicast space 2000::/3.
    Reserved,
    /// ::a.b.c.d (deprecated IPv4-compatible IPv6).
    Ipv4Compatible,
    /// 2001::/32 (Teredo) and 64:ff9b:1::/48 (local-use NAT64): tunnels to
    /// addresses the policy cannot see.
    Tunnel,
}

impl Range {
    /// The rule, in words, for a refusal.
    pub fn describe(self) -> &'static str {
        match self {
            Range::Unspecified => "the unspecified address (\"this host\")",
            Range::Loopback => "loopback",
            Range::Private => "in a private range (RFC 1918)",
            Range::SharedCgnat => "in the shared address space (CGNAT, RFC 6598)",
            Range::LinkLocal => "link-local (cloud metadata services live there)",
            Range::UniqueLocal => "a unique local address (fc00::/7)",
            Range::Multicast => "multicast",
            Range::Broadcast => "the broadcast address",
            Range::Documentation => "in a documentation range",
            Range::Benchmarking => "in the benchmarking range (RFC 2544)",
            Range::Reserved => "in a reserved range",
            Range::Ipv4Compatible => "a deprecated IPv4-compatible IPv6 address",
            Range::Tunnel => "a tunnel (Teredo or local-use NAT64) address",
        }
    }
}

/// The range an address belongs to when it is not public unicast, and
/// whether it was found through an IPv4 address embedded in an IPv6 one.
pub fn classify(address: IpAddr) -> Option<(Range, Option<Ipv4Addr>)> {
    match address {
        IpAddr::V4(v4) => classify_v4(v4).map(|range| (range, None)),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(address: Ipv4Addr) -> Option<Range> {
    let [a, b, c, _] = address.octets();
    let range = match (a, b, c) {
        (0, _, _) => Range::Unspecified,
        (10, _, _) => Range::Private,
        (172, 16..=31, _) | (192, 168, _) => Range::Private,
        (100, 64..=127, _) => Range::SharedCgnat,
        (127, _, _) => Range::Loopback,
        (169, 254, _) => Range::LinkLocal,
        (192, 0, 0) | (192, 88, 99) => Range::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Range::Documentation,
        (198, 18..=19, _) => Range::Benchmarking,
        (224..=239, _, _) => Range::Multicast,
        _ if address == Ipv4Addr::BROADCAST => Range::Broadcast,
        (240..=255, _, _) => Range::Reserved,
        _ => return None,
    };
    Some(range)
}

fn classify_v6(address: Ipv6Addr) -> Option<(Range, Option<Ipv4Addr>)> {
    let bits = u128::from(address);
    let segments = address.segments();
    let embedded_low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if address.is_unspecified() {
        return Some((Range::Unspecified, None));
    }
    if address.is_loopback() {
        return Some((Range::Loopback, None));
    }
    if let Some(v4) = address.to_ipv4_mapped() {
        return classify_v4(v4).map(|range| (range, Some(v4)));
    }
    // ::a.b.c.d: deprecated (RFC 4291); refused whatever it embeds.
    if bits >> 32 == 0 {
        return Some((
            classify_v4(embedded_low).unwrap_or(Range::Ipv4Compatible),
            Some(embedded_low),
        ));
    }
    // 64:ff9b::/96, the well-known NAT64 prefix: the gateway connects to
    // the embedded IPv4 address, which decides.
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return classify_v4(embedded_low).map(|range| (range, Some(embedded_low)));
    }
    if segments[0] == 0x0064 && segments[1] == 0xff9b && segments[2] == 0x0001 {
        return Some((Range::Tunnel, None));
    }
    // 2002::/16, 6to4: the embedded IPv4 address (bits 16..48) decides.
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return classify_v4(v4).map(|range| (range, Some(v4)));
    }
    let range = match segments[0] {
        0xff00..=0xffff => Range::Multicast,
        0xfe80..=0xfebf => Range::LinkLocal,
        0xfec0..=0xfeff => Range::Reserved,
        0xfc00..=0xfdff => Range::UniqueLocal,
        0x2001 if segments[1] == 0x0db8 => Range::Documentation,
        0x2001 if segments[1] == 0x0000 => Range::Tunnel,
        0x2001 if segments[1] == 0x0002 && segments[2] == 0 => Range::Benchmarking,
        0x3fff if segments[1] <= 0x0fff => Range::Documentation,
        0x2000..=0x3fff => return None,
        _ => Range::Reserved,
    };
    Some((range, None))
}
