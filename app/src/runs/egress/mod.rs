//! Egress: where a run's `http` step may connect.
//!
//! By default only public unicast addresses: a step that could reach
//! loopback, a private network or a cloud's metadata service would let
//! anyone who may run a flow read what only the server can reach (SSRF),
//! and bring the answer back in the run. `CAIRN_RUN_EGRESS_ALLOW` (CIDRs
//! and host names) opens exceptions; the server's own listen address is
//! refused whatever it says, so a run can never call Cairn's own API with
//! a resolved secret.
//!
//! The decision is taken on every resolved address, by [`EgressPolicy::decide`],
//! a pure function of the policy, the host the URL named and the address
//! (plus, for a server bound to an unspecified address, whether an address
//! is one of this machine's). The HTTP client of the runs resolves names
//! with a resolver that keeps only the addresses the policy allows, and
//! connects to those (no second lookup, so no DNS rebinding between check
//! and connect); IP literals, which never reach a resolver, are checked
//! before the request is built.

mod ranges;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub use ranges::{Range, classify};

/// The variable that opens exceptions.
pub const ALLOW_VAR: &str = "CAIRN_RUN_EGRESS_ALLOW";

/// What a URL named as its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// A host name, resolved to the address being decided.
    Name(&'a str),
    /// An IP literal (the address itself).
    Literal,
}

/// A network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `address/prefix`, or a single address (a /32 or /128).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address = address
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(address);
        let network: IpAddr = address.parse().ok()?;
        let width = match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => width,
            Some(digits) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
                digits.parse::<u8>().ok().filter(|p| *p <= width)?
            }
            Some(_) => return None,
        };
        Some(Cidr {
            network: canonical(network),
            prefix: if matches!(network, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some()) {
                prefix.saturating_sub(96)
            } else {
                prefix
            },
        })
    }

    /// Whether `address` is in the network (an IPv4-mapped IPv6 address
    /// counts as the IPv4 address it maps).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => in_prefix(
                u32::from(network).into(),
                u32::from(address).into(),
                self.prefix,
                32,
            ),
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                in_prefix(u128::from(network), u128::from(address), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}", self.network, self.prefix)
    }
}

fn in_prefix(network: u128, address: u128, prefix: u8, width: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(width - prefix);
    (network >> shift) == (address >> shift)
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address the
/// operating system connects to; any other address as is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

/// One exception of `CAIRN_RUN_EGRESS_ALLOW`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// Addresses in a network.
    Network(Cidr),
    /// A host name (lower case, without a trailing dot), whatever it
    /// resolves to.
    Name(String),
    /// Every name under a domain (`*.internal.example`), not the domain
    /// itself.
    Subdomains(String),
}

impl AllowEntry {
    /// Parses one entry: blank ones (a trailing comma) are skipped.
    pub fn parse(text: &str) -> Result<Option<AllowEntry>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let looks_like_address = text.contains(':')
            || text.contains('/')
            || text.starts_with('[')
            || text.chars().all(|c| c.is_ascii_digit() || c == '.');
        if looks_like_address {
            return Cidr::parse(text).map(|cidr| Some(AllowEntry::Network(cidr))).ok_or_else(|| {
                format!("{ALLOW_VAR}: {text:?} is not an IP address or CIDR (examples: 10.1.2.0/24, fd00::/8, 127.0.0.1)")
            });
        }
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid {
            return Err(format!(
                "{ALLOW_VAR}: {text:?} is not a CIDR or a host name (examples: 10.1.2.0/24, api.internal, *.svc.cluster.local)"
            ));
        }
        Ok(Some(if wildcard {
            AllowEntry::Subdomains(name)
        } else {
            AllowEntry::Name(name)
        }))
    }

    fn allows(&self, host: &Host<'_>, address: IpAddr) -> bool {
        match (self, host) {
            (AllowEntry::Network(cidr), _) => cidr.contains(address),
            (AllowEntry::Name(allowed), Host::Name(name)) => *allowed == normal_name(name),
            (AllowEntry::Subdomains(domain), Host::Name(name)) => normal_name(name)
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            (_, Host::Literal) => false,
        }
    }
}

fn normal_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Why a step may not connect to an address. Its text names the rule and
/// the address, and how to open an exception when one may be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EgressRefusal {
    /// The address is not public unicast.
    #[error("egress refused: {address} is {}{}; allow it with {ALLOW_VAR}", .range.describe(), embedded_note(.embedded))]
    Range {
        /// The address refused.
        address: IpAddr,
        /// The rule.
        range: Range,
        /// The IPv4 address an IPv6 one embeds, when that decided.
        embedded: Option<Ipv4Addr>,
    },
    /// The address is the server's own (never allowed).
    #[error(
        "egress refused: {address} is this server's own listen address (never allowed, whatever {ALLOW_VAR} says)"
    )]
    OwnAddress {
        /// The address and port refused.
        address: SocketAddr,
    },
    /// A name resolved to nothing.
    #[error("egress refused: {name} resolves to no address")]
    NoAddress {
        /// The name.
        name: String,
    },
}

fn embedded_note(embedded: &Option<Ipv4Addr>) -> String {
    embedded.map_or_else(String::new, |v4| format!(" (it embeds {v4})"))
}

/// Where the server listens: a run may never connect there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnAddress {
    /// Not known (a policy outside `cairn serve`).
    Unknown,
    /// Bound to this address and port.
    Bound(SocketAddr),
}

/// The egress policy of runs: exceptions and the server's own address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressPolicy {
    allow: Vec<AllowEntry>,
    own: OwnAddress,
}

impl Default for EgressPolicy {
    /// Public unicast only, no exception.
    fn default() -> Self {
        EgressPolicy {
            allow: Vec::new(),
            own: OwnAddress::Unknown,
        }
    }
}

impl EgressPolicy {
    /// A policy with these exceptions.
    pub fn new(allow: Vec<AllowEntry>) -> EgressPolicy {
        EgressPolicy {
            allow,
            own: OwnAddress::Unknown,
        }
    }

    /// Parses a comma-separated `CAIRN_RUN_EGRESS_ALLOW`; the error names
    /// the bad entry.
    pub fn parse(allow: &str) -> Result<EgressPolicy, String> {
        let mut entries = Vec::new();
        for entry in allow.split(',') {
            if let Some(entry) = AllowEntry::parse(entry)? {
                entries.push(entry);
            }
        }
        Ok(EgressPolicy::new(entries))
    }

    /// The same policy, refusing the address the server is bound to.
    pub fn with_own_address(mut self, bound: SocketAddr) -> EgressPolicy {
        self.own = OwnAddress::Bound(bound);
        self
    }

    /// Whether a step may connect to `address` for a URL naming `host`.
    pub fn decide(&self, host: &Host<'_>, address: SocketAddr) -> Result<(), EgressRefusal> {
        self.decide_with(host, address, &is_local_address)
    }

    /// [`EgressPolicy::decide`], with the question "is this one of this
    /// machine's addresses?" answered by `is_local` (asked only when the
    /// server listens on an unspecified address and the port is its own).
    pub fn decide_with(
        &self,
        host: &Host<'_>,
        address: SocketAddr,
        is_local: &dyn Fn(IpAddr) -> bool,
    ) -> Result<(), EgressRefusal> {
        let ip = canonical(address.ip());
        if self.is_own(ip, address.port(), is_local) {
            return Err(EgressRefusal::OwnAddress {
                address: SocketAddr::new(ip, address.port()),
            });
        }
        if self.allow.iter().any(|entry| entry.allows(host, ip)) {
            return Ok(());
        }
        match classify(address.ip()) {
            None => Ok(()),
            Some((range, embedded)) => Err(EgressRefusal::Range {
                address: address.ip(),
                range,
                embedded,
            }),
        }
    }

    fn is_own(&self, ip: IpAddr, port: u16, is_local: &dyn Fn(IpAddr) -> bool) -> bool {
        let OwnAddress::Bound(bound) = self.own else {
            return false;
        };
        if port != bound.port() {
            return false;
        }
        let bound_ip = canonical(bound.ip());
        if bound_ip.is_unspecified() {
            // Bound to every address: any of this machine's addresses (the
            // unspecified one too: connecting to it reaches this host).
            ip.is_unspecified() || ip.is_loopback() || is_local(ip)
        } else {
            ip == bound_ip
        }
    }
}

/// Whether `address` is one of this machine's: binding a socket to it
/// succeeds only then. No packet is sent.
fn is_local_address(address: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(address, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SocketAddr {
        text.parse().expect("socket address")
    }

    fn refused_range(policy: &EgressPolicy, host: Host<'_>, address: &str) -> Option<Range> {
        match policy.decide_with(&host, at(address), &|_| false) {
            Ok(()) => None,
            Err(EgressRefusal::Range { range, .. }) => Some(range),
            Err(other) => panic!("unexpected refusal {other}"),
        }
    }

    #[test]
    fn given_the_default_policy_when_a_step_targets_each_special_range_then_the_rule_is_named() {
        let policy = EgressPolicy::default();
        let table = [
            ("127.0.0.1:80", Range::Loopback),
            ("127.0.0.2:80", Range::Loopback),
            ("127.255.255.254:80", Range::Loopback),
            ("[::1]:80", Range::Loopback),
            ("[::ffff:127.0.0.1]:80", Range::Loopback),
            ("[::127.0.0.1]:80", Range::Loopback),
            ("[64:ff9b::127.0.0.1]:80", Range::Loopback),
            ("[2002:7f00:1::]:80", Range::Loopback),
            ("10.0.0.5:80", Range::Private),
            ("10.255.255.255:80", Range::Private),
            ("172.16.0.1:80", Range::Private),
            ("172.31.255.255:80", Range::Private),
            ("192.168.1.1:80", Range::Private),
            ("[::ffff:10.0.0.5]:80", Range::Private),
            ("[::ffff:192.168.0.1]:80", Range::Private),
            ("[64:ff9b::a00:5]:80", Range::Private),
            ("[2002:c0a8:101::1]:80", Range::Private),
            ("100.64.0.1:80", Range::SharedCgnat),
            ("100.127.255.255:80", Range::SharedCgnat),
            ("[::ffff:100.64.0.1]:80", Range::SharedCgnat),
            ("169.254.169.254:80", Range::LinkLocal),
            ("[::ffff:169.254.169.254]:80", Range::LinkLocal),
            ("[64:ff9b::a9fe:a9fe]:80", Range::LinkLocal),
            ("[fe80::1]:80", Range::LinkLocal),
            ("[febf::1]:80", Range::LinkLocal),
            ("[fc00::1]:80", Range::UniqueLocal),
            ("[fd12:3456::1]:80", Range::UniqueLocal),
            ("224.0.0.1:80", Range::Multicast),
            ("239.255.255.250:80", Range::Multicast),
            ("[ff02::1]:80", Range::Multicast),
            ("[::ffff:224.0.0.1]:80", Range::Multicast),
            ("0.0.0.0:80", Range::Unspecified),
            ("0.1.2.3:80", Range::Unspecified),
            ("[::]:80", Range::Unspecified),
            ("[::ffff:0.0.0.0]:80", Range::Unspecified),
            ("255.255.255.255:80", Range::Broadcast),
            ("240.0.0.1:80", Range::Reserved),
            ("192.0.0.8:80", Range::Reserved),
            ("192.88.99.1:80", Range::Reserved),
            ("192.0.2.1:80", Range::Documentation),
            ("198.51.100.7:80", Range::Documentation),
            ("203.0.113.9:80", Range::Documentation),
            ("[2001:db8::1]:80", Range::Documentation),
            ("[3fff::1]:80", Range::Documentation),
            ("198.18.0.1:80", Range::Benchmarking),
            ("198.19.255.255:80", Range::Benchmarking),
            ("[2001:2::1]:80", Range::Benchmarking),
            ("[fec0::1]:80", Range::Reserved),
            ("[100::1]:80", Range::Reserved),
            ("[4000::1]:80", Range::Reserved),
            ("[::8.8.8.8]:80", Range::Ipv4Compatible),
            ("[2001::1]:80", Range::Tunnel),
            ("[64:ff9b:1::a00:1]:80", Range::Tunnel),
        ];
        for (address, range) in table {
            assert_eq!(
                refused_range(&policy, Host::Literal, address),
                Some(range),
                "{address}"
            );
            assert_eq!(
                refused_range(&policy, Host::Name("example.com"), address),
                Some(range),
                "{address} behind a name"
            );
        }
    }

    #[test]
    fn given_the_default_policy_when_a_step_targets_public_unicast_then_it_is_allowed() {
        let policy = EgressPolicy::default();
        for address in [
            "8.8.8.8:443",
            "1.1.1.1:80",
            "9.255.255.255:80",
            "11.0.0.0:80",
            "100.63.255.255:80",
            "100.128.0.0:80",
            "172.15.255.255:80",
            "172.32.0.0:80",
            "169.253.255.255:80",
            "192.167.255.255:80",
            "198.17.255.255:80",
            "198.20.0.0:80",
            "223.255.255.255:80",
            "[2606:4700:4700::1111]:443",
            "[::ffff:8.8.8.8]:80",
            "[64:ff9b::808:808]:80",
            "[2002:808:808::1]:80",
        ] {
            assert_eq!(
                refused_range(&policy, Host::Literal, address),
                None,
                "{address}"
            );
        }
    }

    #[test]
    fn given_an_allowed_network_when_an_address_is_in_it_then_it_is_allowed_in_every_form() {
        let policy = EgressPolicy::parse("10.1.0.0/16, 127.0.0.1").expect("policy");
        assert_eq!(refused_range(&policy, Host::Literal, "10.1.2.3:80"), None);
        assert_eq!(
            refused_range(&policy, Host::Name("db.internal"), "10.1.2.3:80"),
            None
        );
        assert_eq!(refused_range(&policy, Host::Literal, "127.0.0.1:9"), None);
        assert_eq!(
            refused_range(&policy, Host::Literal, "[::ffff:127.0.0.1]:9"),
            None
        );
        assert_eq!(
            refused_range(&policy, Host::Literal, "10.2.0.1:80"),
            Some(Range::Private)
        );
        assert_eq!(
            refused_range(&policy, Host::Literal, "127.0.0.2:80"),
            Some(Range::Loopback)
        );
        assert_eq!(
            refused_range(&policy, Host::Literal, "[::1]:80"),
            Some(Range::Loopback)
        );
    }

    #[test]
    fn given_an_allowed_name_when_it_resolves_anywhere_then_only_that_name_is_allowed() {
        let policy = EgressPolicy::parse("localhost,*.svc.example.").expect("policy");
        assert_eq!(
            refused_range(&policy, Host::Name("LocalHost."), "127.0.0.1:80"),
            None
        );
        assert_eq!(
            refused_range(&policy, Host::Name("a.svc.example"), "10.0.0.1:80"),
            None
        );
        assert_eq!(
            refused_range(&policy, Host::Name("svc.example"), "10.0.0.1:80"),
            Some(Range::Private)
        );
        assert_eq!(
            refused_range(&policy, Host::Name("evilsvc.example"), "10.0.0.1:80"),
            Some(Range::Private)
        );
        assert_eq!(
            refused_range(&policy, Host::Name("other"), "127.0.0.1:80"),
            Some(Range::Loopback)
        );
        // A name never opens an IP literal.
        assert_eq!(
            refused_range(&policy, Host::Literal, "127.0.0.1:80"),
            Some(Range::Loopback)
        );
    }

    #[test]
    fn given_a_bound_address_when_a_step_targets_it_then_it_is_refused_even_if_allowed() {
        let policy = EgressPolicy::parse("127.0.0.0/8,::1,localhost")
            .expect("policy")
            .with_own_address(at("127.0.0.1:8080"));
        for (host, address) in [
            (Host::Literal, "127.0.0.1:8080"),
            (Host::Literal, "[::ffff:127.0.0.1]:8080"),
            (Host::Name("localhost"), "127.0.0.1:8080"),
        ] {
            assert_eq!(
                policy.decide_with(&host, at(address), &|_| false),
                Err(EgressRefusal::OwnAddress {
                    address: at("127.0.0.1:8080")
                }),
                "{address}"
            );
        }
        // Another port, or another loopback address, is not the server.
        assert_eq!(
            policy.decide_with(&Host::Literal, at("127.0.0.1:8081"), &|_| false),
            Ok(())
        );
        assert_eq!(
            policy.decide_with(&Host::Literal, at("127.0.0.2:8080"), &|_| false),
            Ok(())
        );
    }

    #[test]
    fn given_an_unspecified_bind_when_a_step_targets_any_local_address_on_that_port_then_it_is_refused()
     {
        let policy = EgressPolicy::parse("0.0.0.0/0,::/0")
            .expect("policy")
            .with_own_address(at("0.0.0.0:8080"));
        let local = |ip: IpAddr| ip == "192.168.1.20".parse::<IpAddr>().expect("ip");
        for address in [
            "127.0.0.1:8080",
            "127.0.0.2:8080",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:8080",
            "0.0.0.0:8080",
            "192.168.1.20:8080",
        ] {
            assert!(
                matches!(
                    policy.decide_with(&Host::Literal, at(address), &local),
                    Err(EgressRefusal::OwnAddress { .. })
                ),
                "{address}"
            );
        }
        assert_eq!(
            policy.decide_with(&Host::Literal, at("192.168.1.21:8080"), &local),
            Ok(())
        );
        assert_eq!(
            policy.decide_with(&Host::Literal, at("127.0.0.1:8081"), &local),
            Ok(())
        );
    }

    #[test]
    fn the_system_knows_loopback_is_local_and_a_documentation_address_is_not() {
        assert!(is_local_address("127.0.0.1".parse().expect("ip")));
        assert!(!is_local_address("192.0.2.1".parse().expect("ip")));
    }

    #[test]
    fn a_refusal_names_the_rule_the_address_and_the_way_out() {
        let policy = EgressPolicy::default();
        let refusal = policy
            .decide_with(&Host::Literal, at("10.0.0.5:80"), &|_| false)
            .expect_err("refused");
        assert_eq!(
            refusal.to_string(),
            "egress refused: 10.0.0.5 is in a private range (RFC 1918); allow it with CAIRN_RUN_EGRESS_ALLOW"
        );
        let mapped = policy
            .decide_with(&Host::Literal, at("[::ffff:169.254.169.254]:80"), &|_| {
                false
            })
            .expect_err("refused");
        assert!(
            mapped.to_string().contains("::ffff:169.254.169.254")
                && mapped.to_string().contains("link-local")
                && mapped.to_string().contains("embeds 169.254.169.254"),
            "{mapped}"
        );
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "::1/129",
            "fe80::/x",
            "exa mple.com",
            "-bad.example",
            "*.",
            "a..b",
            "300.1.1.1",
        ] {
            let error = EgressPolicy::parse(&format!("127.0.0.1,{bad}")).expect_err(bad);
            assert!(
                error.contains(ALLOW_VAR) && error.contains(bad.trim()),
                "{error}"
            );
        }
        assert_eq!(
            EgressPolicy::parse(" , ").expect("blank"),
            EgressPolicy::default()
        );
        assert_eq!(
            EgressPolicy::parse("[::1]/128, ::ffff:10.0.0.0/104").expect("v6"),
            EgressPolicy::new(vec![
                AllowEntry::Network(Cidr::parse("::1").expect("cidr")),
                AllowEntry::Network(Cidr::parse("10.0.0.0/8").expect("cidr")),
            ])
        );
    }

    #[test]
    fn cidrs_contain_what_they_should() {
        let net = Cidr::parse("10.0.0.0/8").expect("cidr");
        assert!(net.contains("10.200.0.1".parse().expect("ip")));
        assert!(net.contains("::ffff:10.0.0.1".parse().expect("ip")));
        assert!(!net.contains("11.0.0.1".parse().expect("ip")));
        assert!(!net.contains("::a00:1".parse().expect("ip")));
        let all = Cidr::parse("0.0.0.0/0").expect("cidr");
        assert!(all.contains("1.2.3.4".parse().expect("ip")));
        assert!(!all.contains("::1".parse().expect("ip")));
        let v6 = Cidr::parse("fd00::/8").expect("cidr");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(!v6.contains("fc12::1".parse().expect("ip")));
    }
}
