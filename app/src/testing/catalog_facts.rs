//! Facts about namespaces, flows, secrets and connections, for the given/when/then tests of those
//! commands.
