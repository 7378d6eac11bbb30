//! What a session token says: the claims the HTTP edge signs (JWT HS256)
//! when a login succeeds, and hands back once it has checked a token's
//! signature, algorithm, expiry, issuer and audience. Signing is the
//! edge's business; the app decides what the claims are and, given
//! checked claims, whether the session they name is still live
//! (`principal::from_claims`), so logout, password changes and
//! deactivation take effect at once.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `iss` claim.
pub const ISSUER: &str = "cairn";
/// The `aud` claim.
pub const AUDIENCE: &str = "cairn-api";
/// Clock leeway, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// The claims of a session token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The session id.
    pub sid: Uuid,
    /// The org the session acts in.
    pub org: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Not before (seconds since the epoch).
    pub nbf: u64,
}
