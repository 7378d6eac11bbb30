//! Groups, grants and who reaches what, as every kind of caller.

pub(crate) mod adversarial_matrix;
pub(crate) mod secrets_api;
pub(crate) mod sharing_matrix;
