//! The server as an operator and a client meet it: start-up, configuration, docs, floods, the console, the OpenAPI contract.

pub(crate) mod api_client;
pub(crate) mod console;
pub(crate) mod docker_config;
pub(crate) mod docs;
pub(crate) mod floods;
pub(crate) mod schemathesis;
pub(crate) mod serve;
