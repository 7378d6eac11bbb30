//! The hash map of the views: std's, with foldhash instead of SipHash.
//! `authorize` makes several lookups per request in maps of millions of
//! entries keyed by server-made UUIDs; SipHash was a measurable share of
//! it (docs/performance.md). foldhash's state is randomly seeded per map.

/// A `HashMap` hashed with foldhash.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
