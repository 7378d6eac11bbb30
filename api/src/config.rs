//! Configuration: environment first (`.env` supported), flags override.
//! Every variable Cairn reads is declared here, with its default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the data lives.
#[derive(Clone, Debug, Args)]
pub struct DataDirArgs {
    /// The data directory (one per instance).
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
    pub data_dir: PathBuf,
}

/// Development generates a local master key; production refuses to start
/// without `CAIRN_MASTER_KEY`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// Local use: a master key is generated into the data dir if none is set.
    #[default]
    Development,
    /// Real deployments: every key must be provided.
    Production,
}

/// `cairn serve`.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// The data directory.
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The address to listen on.
    #[arg(long, env = "CAIRN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// `development` or `production`.
    #[arg(long = "env", env = "CAIRN_ENV", value_enum, default_value_t = Environment::Development)]
    pub environment: Environment,
    /// Sign a checkpoint after this many events.
    #[arg(long, env = "CAIRN_CHECKPOINT_EVERY", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// Sign a checkpoint at least this often, in seconds, also when idle.
    #[arg(long, env = "CAIRN_CHECKPOINT_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub checkpoint_interval: u64,
}

/// The environment variable that holds the master key.
pub const MASTER_KEY_VAR: &str = "CAIRN_MASTER_KEY";
