//! Where a request came from: recorded with every event it causes (the IP
//! address and user agent sealed as the actor's personal data).

use std::net::IpAddr;

use cairn_schemas::PersonalData;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The data subject for personal data of people who are not (yet) known:
/// unauthenticated clients, failed logins for unknown names. One subject
/// per UTC day, so spraying random names or addresses cannot grow the key
/// store without bound, and a day's anonymous origins can be erased as one.
pub fn anonymous_subject(now_micros: i64) -> Uuid {
    let day = now_micros.div_euclid(86_400_000_000);
    let digest = Sha256::digest(format!("cairn/anonymous-subject/{day}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The longest user agent kept.
const MAX_USER_AGENT: usize = 256;

/// The origin of a command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// Its user agent, truncated.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl Origin {
    /// An origin for commands that do not come from a request (CLI, jobs).
    pub fn local(request_id: &str) -> Origin {
        Origin {
            ip: None,
            user_agent: None,
            request_id: Some(request_id.to_string()),
        }
    }

    /// The personal data this origin adds to an event about its actor.
    pub fn personal(&self) -> PersonalData {
        PersonalData {
            ip: self.ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent.as_ref().map(|agent| {
                agent
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT)
                    .collect()
            }),
            ..PersonalData::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_anonymous_subject_per_day() {
        let day = 86_400_000_000;
        assert_eq!(anonymous_subject(10), anonymous_subject(day - 1));
        assert_ne!(anonymous_subject(10), anonymous_subject(day));
    }
}
