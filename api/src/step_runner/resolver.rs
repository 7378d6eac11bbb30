//! The name resolver of runs' HTTP clients: the egress policy applied to
//! every address a name resolves to, before any connection.

use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use cairn_app::runs::egress::{EgressPolicy, EgressRefusal, Host};

/// The name resolver of a step's HTTP client: resolves with the system
/// resolver, keeps only the addresses the policy allows for this name and
/// port, and hands exactly those to the connector (which connects to no
/// other). Refuses when none is left.
#[derive(Debug)]
pub struct PolicyResolver {
    policy: Arc<EgressPolicy>,
    port: u16,
}

impl PolicyResolver {
    /// A resolver for connections to `port`.
    pub fn new(policy: Arc<EgressPolicy>, port: u16) -> PolicyResolver {
        PolicyResolver { policy, port }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let port = self.port;
        let name = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), port)).await?;
            let mut allowed = Vec::new();
            let mut refusal = None;
            // A name may resolve to many addresses; at most a bounded few
            // are considered.
            for address in found.take(MAX_ADDRESSES) {
                match policy.decide(&Host::Name(&name), address) {
                    Ok(()) => allowed.push(address),
                    // A name that leads to the server itself is refused
                    // whole, whatever else it resolves to.
                    Err(own @ EgressRefusal::OwnAddress { .. }) => {
                        return Err(Box::new(own) as Box<dyn std::error::Error + Send + Sync>);
                    }
                    Err(refused) => {
                        refusal.get_or_insert(refused);
                    }
                }
            }
            if allowed.is_empty() {
                let refusal = refusal.unwrap_or(EgressRefusal::NoAddress { name });
                return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The most addresses of one name considered.
const MAX_ADDRESSES: usize = 32;

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::str::FromStr;

    use super::*;

    async fn resolve(
        policy: EgressPolicy,
        name: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, String> {
        let resolver = PolicyResolver::new(Arc::new(policy), port);
        match resolver
            .resolve(Name::from_str(name).expect("a name"))
            .await
        {
            Ok(addresses) => Ok(addresses.collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    #[tokio::test]
    async fn given_the_default_policy_when_a_name_resolves_to_loopback_then_it_is_refused() {
        let refused = resolve(EgressPolicy::default(), "localhost", 8080)
            .await
            .expect_err("refused");
        assert!(
            refused.starts_with("egress refused: ") && refused.contains("loopback"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn given_an_allowed_name_when_it_resolves_then_its_addresses_keep_the_port() {
        let policy = EgressPolicy::parse("localhost").expect("policy");
        let addresses = resolve(policy, "localhost", 8081).await.expect("allowed");
        assert!(!addresses.is_empty());
        assert!(
            addresses
                .iter()
                .all(|address| address.ip().is_loopback() && address.port() == 8081),
            "{addresses:?}"
        );
    }

    #[tokio::test]
    async fn given_a_name_that_leads_to_the_server_itself_then_it_is_refused_whole() {
        let policy = EgressPolicy::parse("localhost,127.0.0.0/8,::1")
            .expect("policy")
            .with_own_address("127.0.0.1:8080".parse().expect("address"));
        let refused = resolve(policy, "localhost", 8080)
            .await
            .expect_err("refused");
        assert!(refused.contains("own listen address"), "{refused}");
    }
}
