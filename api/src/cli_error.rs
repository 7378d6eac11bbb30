//! How a `cairn` command fails: an exit code, the one line printed on
//! stderr, and the error that caused it (kept as the source, not only
//! its text). Its own module so that the CLI, `serve` and the master key's
//! loading all use it without importing each other.
//!
//! Exit codes (a contract): 0 ok, 1 failure, 2 usage, 3 integrity
//! violation found.

/// The cause of a failure, kept as an error.
type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure with its exit code. The message is one line.
#[derive(Debug)]
pub struct CliError {
    /// The process exit code.
    pub code: u8,
    /// What went wrong (with the cause's text, when there is one).
    pub message: String,
    /// The error that caused it.
    source: Option<Cause>,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl CliError {
    fn new(code: u8, message: impl Into<String>, source: Option<Cause>) -> CliError {
        CliError {
            code,
            message: message.into(),
            source,
        }
    }

    /// Exit 1: the command failed.
    pub fn failure(message: impl Into<String>) -> CliError {
        CliError::new(1, message, None)
    }

    /// Exit 2: the command was used wrongly.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(2, message, None)
    }

    /// Exit 3: an integrity violation was found.
    pub fn integrity(message: impl Into<String>) -> CliError {
        CliError::new(3, message, None)
    }

    /// Exit 1 because of `error`, which says it all.
    pub fn failed(error: impl Into<Cause>) -> CliError {
        let error = error.into();
        CliError::new(1, error.to_string(), Some(error))
    }

    /// Exit 3 because of `error`, an integrity violation that says it all.
    pub fn violated(error: impl Into<Cause>) -> CliError {
        let error = error.into();
        CliError::new(3, error.to_string(), Some(error))
    }

    /// Exit 1: `context`, because of `error` (printed `context: error`).
    pub fn failure_because(context: impl std::fmt::Display, error: impl Into<Cause>) -> CliError {
        CliError::because(1, context, error)
    }

    /// Exit 2: `context`, because of `error` (printed `context: error`).
    pub fn usage_because(context: impl std::fmt::Display, error: impl Into<Cause>) -> CliError {
        CliError::because(2, context, error)
    }

    /// Exit 3: `context`, because of `error` (printed `context: error`).
    pub fn integrity_because(context: impl std::fmt::Display, error: impl Into<Cause>) -> CliError {
        CliError::because(3, context, error)
    }

    /// `message`, which names `error` itself (its text is part of the
    /// sentence), with `error` kept as the cause.
    pub fn with_cause(self, error: impl Into<Cause>) -> CliError {
        CliError {
            source: Some(error.into()),
            ..self
        }
    }

    fn because(code: u8, context: impl std::fmt::Display, error: impl Into<Cause>) -> CliError {
        let error = error.into();
        CliError::new(code, format!("{context}: {error}"), Some(error))
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError::new(1, format!("{error:#}"), Some(error.into()))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn the_cause_is_kept_and_its_text_ends_the_line() {
        let io = std::io::Error::other("disk on fire");
        let error = CliError::failure_because("cannot write /x", io);
        assert_eq!(error.code, 1);
        assert_eq!(error.to_string(), "cannot write /x: disk on fire");
        let source = error.source().expect("a source");
        assert_eq!(source.to_string(), "disk on fire");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
    }

    #[test]
    fn codes_follow_the_contract() {
        assert_eq!(CliError::failure("x").code, 1);
        assert_eq!(CliError::usage("x").code, 2);
        assert_eq!(CliError::integrity("x").code, 3);
        assert_eq!(CliError::violated(std::io::Error::other("x")).code, 3);
        assert!(CliError::usage("x").source().is_none());
    }
}
