//! Configuration: environment first (`.env` supported), flags override.
//! Every variable Cairn reads is declared here, with its default.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use cairn_app::runs::egress::AllowEntry;

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
    /// How often checkpoints are signed.
    #[command(flatten)]
    pub cadence: CadenceArgs,
    /// Write a snapshot of the views after this many events, so a start
    /// folds at most this many.
    #[arg(long, env = "CAIRN_SNAPSHOT_EVERY", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub snapshot_every: u64,
    /// How long a login session lasts: seconds, or a number with s, m, h or d.
    #[arg(long, env = "CAIRN_SESSION_TTL", default_value = "1h", value_parser = parse_duration_secs)]
    pub session_ttl: u64,
    /// Whether new users are active unless their creator says otherwise.
    #[arg(long, env = "CAIRN_NEW_USER_IS_ACTIVE", default_value_t = false, action = clap::ArgAction::Set)]
    pub new_user_is_active: bool,
    /// Requests per minute per client on the auth endpoints (20x that on the rest).
    #[arg(long, env = "CAIRN_RATE_LIMIT_REQUESTS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_requests: u32,
    /// Origins allowed to call the API from a browser (comma-separated; never `*`).
    #[arg(
        long,
        env = "CAIRN_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (comma-separated IP addresses; none by default).
    #[arg(long, env = "CAIRN_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_ip_list_entry)]
    pub trusted_proxies: Vec<Option<IpAddr>>,
    /// HTTPS is terminated in front of Cairn: send Strict-Transport-Security.
    #[arg(long, env = "CAIRN_TLS_TERMINATED", default_value_t = false, action = clap::ArgAction::Set)]
    pub tls_terminated: bool,
    /// Environment variables flows may read as `$env.NAME` (comma-separated; none by default; never a `CAIRN_` name).
    #[arg(long, env = "CAIRN_FLOW_ENV_ALLOW", value_delimiter = ',', value_parser = parse_env_allow_entry)]
    pub flow_env_allow: Vec<Option<String>>,
    /// Runs executed at once (the worker pool).
    #[arg(long, env = "CAIRN_RUN_WORKERS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub run_workers: u32,
    /// Exceptions to the runs' egress policy (comma-separated CIDRs and host names; `*.domain` for its subdomains). By default an http step reaches public unicast addresses only; the server's own listen address is refused whatever this says.
    #[arg(long, env = "CAIRN_RUN_EGRESS_ALLOW", value_delimiter = ',', value_parser = parse_egress_allow_entry)]
    pub run_egress_allow: Vec<Option<AllowEntry>>,
    /// The shortest interval between a schedule's due times, in seconds: a cron that fires more often is refused.
    #[arg(long, env = "CAIRN_SCHEDULE_MIN_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub schedule_min_interval: u64,
    /// Schedules one member may own.
    #[arg(long, env = "CAIRN_SCHEDULES_PER_USER", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub schedules_per_user: u32,
    /// Runs one member may have queued or running at once; past it, 429.
    #[arg(long, env = "CAIRN_RUNS_QUEUED_PER_USER", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub runs_queued_per_user: u32,
    /// The longest a whole run may take, in seconds; a step's own timeout is cut to what remains.
    #[arg(long, env = "CAIRN_RUN_TIMEOUT", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub run_timeout: u64,
    /// Compact the store after each prune, so no dropped payload stays in its files (writes pause meanwhile); when off, run `cairn compact` on the stopped data dir.
    #[arg(long, env = "CAIRN_RETENTION_COMPACT", default_value_t = true, action = clap::ArgAction::Set)]
    pub retention_compact: bool,
}

/// One entry of `CAIRN_RUN_EGRESS_ALLOW` (blank entries are skipped); the
/// error names the entry.
pub fn parse_egress_allow_entry(text: &str) -> Result<Option<AllowEntry>, String> {
    AllowEntry::parse(text)
}

/// One entry of `CAIRN_FLOW_ENV_ALLOW`: blank entries are skipped; a name
/// must look like an environment variable and must not be one of Cairn's
/// own (`CAIRN_…`), so a flow can never read the master key or any other
/// server secret, whatever the allowlist says.
pub fn parse_env_allow_entry(text: &str) -> Result<Option<String>, String> {
    let name = text.trim();
    if name.is_empty() {
        return Ok(None);
    }
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("{name:?} is not an environment variable name"));
    }
    if name.to_ascii_uppercase().starts_with("CAIRN_") {
        return Err(format!(
            "{name} is one of Cairn's own variables: flows may never read them"
        ));
    }
    Ok(Some(name.to_string()))
}

/// One entry of an address list: blank entries (a trailing comma, an empty
/// variable) are skipped; spaces around an address are allowed.
pub fn parse_ip_list_entry(text: &str) -> Result<Option<IpAddr>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{text:?} is not an IP address"))
}

/// Secrets and bootstrap settings, read from the environment only (never
/// from flags, so they never appear in a process listing).
pub mod secret_env {
    /// The JWT signing secret (at least 32 characters); derived from the
    /// master key when unset.
    pub const JWT_SECRET: &str = "CAIRN_JWT_SECRET";
    /// Bootstrap only when exactly `false`.
    pub const DISABLE_AUTO_ADMIN: &str = "CAIRN_DISABLE_AUTO_ADMIN";
    /// The bootstrap superuser's name.
    pub const ADMIN_USER: &str = "CAIRN_ADMIN_USER";
    /// The bootstrap superuser's password.
    pub const ADMIN_PASSWORD: &str = "CAIRN_ADMIN_PASSWORD";
    /// A superuser's token (JWT or API key) for `cairn backup` against a
    /// running server.
    pub const TOKEN: &str = "CAIRN_TOKEN";

    /// A variable's value, `None` when unset or empty.
    pub fn read(name: &str) -> Option<String> {
        raw(name).ok().filter(|value| !value.is_empty())
    }

    /// A variable as the process has it: the one place Cairn reads its
    /// environment (clap reads the rest, from the declarations above).
    pub fn raw(name: &str) -> Result<String, std::env::VarError> {
        std::env::var(name)
    }

    /// The process environment as the runs' `$env` port: what
    /// `CAIRN_FLOW_ENV_ALLOW` lets through is decided by the app, never
    /// here.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct ProcessEnv;

    impl cairn_app::runs::Env for ProcessEnv {
        fn var(&self, name: &str) -> Option<String> {
            raw(name).ok()
        }
    }
}

/// The shortest accepted `CAIRN_JWT_SECRET`.
pub const MIN_JWT_SECRET_CHARS: usize = 32;

/// Parses `3600`, `90s`, `30m`, `1h` or `7d` into seconds (1 s to 30 days).
pub fn parse_duration_secs(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (examples: 3600, 90s, 30m, 1h)"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?} (use s, m, h or d)")),
    };
    let seconds = value.checked_mul(scale).ok_or("the duration is too long")?;
    if !(1..=30 * 86_400).contains(&seconds) {
        return Err("the duration must be between 1 second and 30 days".into());
    }
    Ok(seconds)
}

/// The environment variable that holds the master key.
pub const MASTER_KEY_VAR: &str = "CAIRN_MASTER_KEY";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("3600"), Ok(3600));
        assert_eq!(parse_duration_secs("1h"), Ok(3600));
        assert_eq!(parse_duration_secs("30m"), Ok(1800));
        assert_eq!(parse_duration_secs("2d"), Ok(172_800));
        assert!(parse_duration_secs("0").is_err());
        assert!(parse_duration_secs("1y").is_err());
        assert!(parse_duration_secs("h").is_err());
        assert!(parse_duration_secs("99999999999999999999h").is_err());
    }

    #[test]
    fn the_env_allowlist_never_names_cairn_variables() {
        assert_eq!(parse_env_allow_entry(" REGION "), Ok(Some("REGION".into())));
        assert_eq!(parse_env_allow_entry(""), Ok(None));
        assert!(parse_env_allow_entry("CAIRN_MASTER_KEY").is_err());
        assert!(parse_env_allow_entry("cairn_master_key").is_err());
        assert!(parse_env_allow_entry("A-B").is_err());
        assert!(parse_env_allow_entry("1A").is_err());
    }
}

/// The checkpoint cadence: how often `cairn serve` signs, and what the
/// commands that check a log's unanchored tail hold it to.
#[derive(Clone, Copy, Debug, Args)]
pub struct CadenceArgs {
    /// Sign a checkpoint after this many events.
    #[arg(long = "checkpoint-every", env = "CAIRN_CHECKPOINT_EVERY", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// Sign a checkpoint at least this often, in seconds, also when idle.
    #[arg(long = "checkpoint-interval", env = "CAIRN_CHECKPOINT_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub interval: u64,
}

impl CadenceArgs {
    /// The cadence the log's unanchored tail is held to.
    pub fn cadence(&self) -> cairn_core::log::Cadence {
        cairn_core::log::Cadence::new(self.every, self.interval)
    }
}
