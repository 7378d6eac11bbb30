//! Session tokens on the wire: JWT HS256 with `exp`, `iat`, `nbf`, `sub`,
//! `sid`, `org`, `iss` and `aud` (the claims are the app's,
//! [`cairn_app::tokens::Claims`]). Validation accepts HS256 only (no
//! `none`, no algorithm confusion), requires every claim, and allows 5 s of
//! clock leeway. A valid signature is not enough: the app checks that the
//! session it names is live (`principal::from_claims`).

mod jwt_hs256;

use cairn_app::tokens::{AUDIENCE, Claims, ISSUER, LEEWAY_SECS};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use zeroize::Zeroizing;

use cairn_core::crypto::{self, MasterKey};

/// The HS256 key, from `CAIRN_JWT_SECRET` or derived from the master key.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..redacted..)")
    }
}

impl TokenKeys {
    /// Keys from the explicit secret, or derived with HKDF (info
    /// `jwt-signing`) from the master key.
    pub fn new(master: &MasterKey, secret: Option<&str>) -> TokenKeys {
        jwt_hs256::install();
        let key: Zeroizing<Vec<u8>> = match secret {
            Some(secret) => Zeroizing::new(secret.as_bytes().to_vec()),
            None => Zeroizing::new(
                crypto::derive_key(master, crypto::info::JWT_SIGNING)
                    .as_bytes()
                    .to_vec(),
            ),
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "sub", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        TokenKeys {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
        }
    }

    /// Signs claims.
    pub fn issue(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Verifies a token's signature, algorithm and claims. `None` for any
    /// failure: the caller answers every bad token the same way.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys() -> TokenKeys {
        TokenKeys::new(&MasterKey::from_bytes([3; 32]), None)
    }

    fn claims(now: u64) -> Claims {
        Claims {
            sub: Uuid::from_u128(1),
            sid: Uuid::from_u128(2),
            org: Uuid::from_u128(3),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now + 60,
            iat: now,
            nbf: now,
        }
    }

    fn now() -> u64 {
        u64::try_from(cairn_core::SystemClock.now_micros() / 1_000_000).expect("time")
    }

    use cairn_core::Clock;

    use uuid::Uuid;

    #[test]
    fn issued_tokens_verify_and_tampered_ones_do_not() {
        let keys = keys();
        let token = keys.issue(&claims(now())).expect("issue");
        assert_eq!(
            keys.verify(&token),
            Some(claims(now())).filter(|c| c.iat == keys.verify(&token).expect("v").iat)
        );
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"sub":"00000000-0000-0000-0000-000000000009"}"#);
        assert_eq!(keys.verify(&parts.join(".")), None);
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = keys();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now())).expect("json"));
        assert_eq!(keys.verify(&format!("{header}.{body}.")), None);
    }

    #[test]
    fn expired_and_wrong_audience_are_refused() {
        let keys = keys();
        let mut expired = claims(now() - 3600);
        expired.exp = now() - 60;
        assert_eq!(keys.verify(&keys.issue(&expired).expect("issue")), None);
        let mut foreign = claims(now());
        foreign.aud = "someone-else".into();
        assert_eq!(keys.verify(&keys.issue(&foreign).expect("issue")), None);
    }
}
