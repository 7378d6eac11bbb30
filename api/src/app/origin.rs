//! Where a request came from: recorded with every event it causes (the IP
//! address and user agent sealed as the actor's personal data).

use std::net::IpAddr;

use cairn_schemas::PersonalData;

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
