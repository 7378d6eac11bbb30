//! A password as it arrives in a request body: never printed, wiped from
//! memory when dropped.

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// A plaintext password. `Debug` prints `Password(..redacted..)`; there is
/// no `Display` and no `Serialize`, so it cannot end up in a log line, an
/// event or a response by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(text: impl Into<String>) -> Password {
        Password(Zeroizing::new(text.into()))
    }

    /// The plaintext, for hashing and policy checks only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..redacted..)")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Password::new)
    }
}

impl utoipa::PartialSchema for Password {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
            .min_length(Some(1))
            .into()
    }
}

impl utoipa::ToSchema for Password {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let password = Password::new("hunter2-canary");
        assert_eq!(format!("{password:?}"), "Password(..redacted..)");
        assert_eq!(password.expose(), "hunter2-canary");
    }
}
