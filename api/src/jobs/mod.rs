//! Background jobs of the server.

pub mod checkpointer;
pub mod durability_watch;
pub mod maintenance;
pub mod run_workers;
pub mod scheduler;
pub mod sinks;
