//! `cairn serve`: start-up, the server, the jobs, and shutdown.
//!
//! Order: master key, listener (GET /health answers 503 from here on), log
//! recovery, views fold, `system.started` made durable, runs the last
//! process left unfinished recorded failed, run workers started, then
//! ready (and the scheduler ticking).

use std::sync::Arc;
use std::time::Duration;

use cairn_core::log::{EventLog, LogConfig, OpenError, Recovery, StoreError};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{Action, EventPayload, RECORD_FORMAT, SystemStarted};
use tokio::net::TcpListener;

use crate::cli_error::CliError;
use crate::config::{Environment, MIN_JWT_SECRET_CHARS, ServeArgs, secret_env};
use crate::http::{self, HttpConfig, ServerState};
use crate::jobs;
use crate::master_key::{self, KeySource};
use crate::session_tokens::TokenKeys;
use cairn_app::bootstrap::{self, BootstrapRequest};
use cairn_app::runs::egress::EgressPolicy;
use cairn_app::{App, AppSettings, CommandError, Origin};
use cairn_core::crypto::MasterKey;
use cairn_schemas::Password;

/// Runs the server until SIGINT/SIGTERM or a fatal error.
pub fn run(args: ServeArgs) -> Result<(), CliError> {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cairn-worker")
        .build()
        .map_err(|error| CliError::failure_because("cannot start the async runtime", error))?;
    runtime.block_on(serve(args))
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    // sled's internal log lines (its own warnings while reading a damaged
    // file, say) duplicate the one clear error Cairn reports; show them only
    // when RUST_LOG asks for sled by name.
    let requested = secret_env::raw("RUST_LOG").unwrap_or_default();
    let requested = if requested.trim().is_empty() {
        "info".to_string()
    } else {
        requested
    };
    let directives = if requested.contains("sled") {
        requested
    } else {
        format!("{requested},sled=off")
    };
    let filter =
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info,sled=off"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

fn prepare_data_dir(args: &ServeArgs) -> Result<(), CliError> {
    let dir = &args.data.data_dir;
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(CliError::failure(format!(
            "the data dir {} is not a directory",
            dir.display()
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_data_dir(dir),
        Err(error) => Err(CliError::failure_because(
            format!("the data dir {} cannot be read", dir.display()),
            error,
        )),
    }
}

/// Creates the data dir and makes its directory entry durable (fsync of the
/// parent): without that, a power loss right after the first start could
/// lose the whole directory, acknowledged events included.
fn create_data_dir(dir: &std::path::Path) -> Result<(), CliError> {
    let created = cairn_core::log::store::private_files::create_dir_all(dir).and_then(|()| {
        let parent = match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => std::path::Path::new("."),
        };
        std::fs::File::open(parent)?.sync_all()
    });
    created.map_err(|error| {
        CliError::failure_because(
            format!("the data dir {} cannot be created", dir.display()),
            error,
        )
    })
}

/// The key session tokens are signed with: `CAIRN_JWT_SECRET` when set
/// (long enough), else one derived from the master key.
fn session_tokens(master: &MasterKey) -> Result<TokenKeys, CliError> {
    let jwt_secret = secret_env::read(secret_env::JWT_SECRET);
    if let Some(secret) = &jwt_secret
        && secret.chars().count() < MIN_JWT_SECRET_CHARS
    {
        return Err(CliError::failure(format!(
            "{} must be at least {MIN_JWT_SECRET_CHARS} characters (or unset it to derive the key from the master key)",
            secret_env::JWT_SECRET
        )));
    }
    Ok(TokenKeys::new(master, jwt_secret.as_deref()))
}

fn app_settings(args: &ServeArgs) -> Result<AppSettings, CliError> {
    Ok(AppSettings {
        cadence: args.cadence.cadence(),
        snapshot_every: args.snapshot_every,
        session_ttl_secs: args.session_ttl,
        new_user_is_active: args.new_user_is_active,
        flow_env_allow: args.flow_env_allow.iter().flatten().cloned().collect(),
        run_workers: usize::try_from(args.run_workers).unwrap_or(4),
        run_egress: EgressPolicy::new(args.run_egress_allow.iter().flatten().cloned().collect()),
        schedule_min_interval_secs: args.schedule_min_interval,
        schedules_per_user: usize::try_from(args.schedules_per_user).unwrap_or(20),
        runs_queued_per_user: usize::try_from(args.runs_queued_per_user).unwrap_or(8),
        run_timeout_secs: args.run_timeout,
        retention_compact: args.retention_compact,
        ..AppSettings::default()
    })
}

/// Creates the bootstrap superuser when asked to and none exists; a bad
/// username or password stops the start with a clear line (never the
/// password itself).
async fn run_bootstrap(app: &App, request: BootstrapRequest) -> Result<(), CliError> {
    let BootstrapRequest::Admin { username, password } = request else {
        return Ok(());
    };
    match bootstrap::create_superuser(app, &username, &password, true, &Origin::local("bootstrap"))
        .await
    {
        Ok(Some(_)) => {
            tracing::info!(username = %username, "bootstrap superuser created with a personal organization");
            Ok(())
        }
        Ok(None) => {
            tracing::info!("a superuser exists: the bootstrap admin is not created");
            Ok(())
        }
        Err(CommandError::Invalid {
            field: "username",
            message,
        }) => Err(CliError::failure(format!(
            "{} is not a valid username: {message}",
            secret_env::ADMIN_USER
        ))),
        Err(CommandError::Invalid {
            field: "password",
            message,
        }) => Err(CliError::failure(format!(
            "{} does not meet the password policy: {message}",
            secret_env::ADMIN_PASSWORD
        ))),
        Err(error) => Err(CliError::failure_because(
            "cannot create the bootstrap admin",
            error,
        )),
    }
}

fn open_error(error: OpenError) -> CliError {
    match error {
        OpenError::Store(StoreError::InUse(dir)) => CliError::failure(format!(
            "the data dir {} is in use by another cairn process",
            dir.display()
        )),
        // The log cannot be trusted as it is: refused, exit 3, and never
        // signed over.
        integrity @ (OpenError::BrokenChain { .. }
        | OpenError::Unanchored { .. }
        | OpenError::Anchor(_)) => CliError::violated(integrity),
        other => CliError::failed(other),
    }
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    prepare_data_dir(&args)?;
    let (master, source) = master_key::for_server(&args.data.data_dir, args.environment)?;
    warn_of_a_development_key(&source);
    let mut settings = app_settings(&args)?;
    let session_tokens = Arc::new(session_tokens(&master)?);
    let bootstrap = bootstrap::request_from(
        secret_env::read(secret_env::DISABLE_AUTO_ADMIN).as_deref(),
        secret_env::read(secret_env::ADMIN_USER),
        secret_env::read(secret_env::ADMIN_PASSWORD).map(Password::new),
    )
    .map_err(CliError::failure)?;
    let sink_specs =
        jobs::sinks::sinks_from(|name| secret_env::raw(name).ok()).map_err(CliError::usage)?;
    jobs::sinks::check(&sink_specs).map_err(CliError::usage)?;
    let sink_board = Arc::new(jobs::sinks::SinkBoard::new(&sink_specs));
    let state = ServerState::starting(http_config(&args, session_tokens, &sink_board));

    // Listening before the log opens: /health answers 503 while it does.
    let mut signals = ShutdownSignals::install();
    let (mut server, address) = Server::start(&args, &state).await?;
    // Runs may never call the server itself (with a resolved secret).
    settings.run_egress = settings.run_egress.with_own_address(address);
    let (app, recovery) = open_app(&args, master, settings).await?;
    record_the_start(&app, &recovery, args.cadence.every).await?;
    let run_workers = jobs::run_workers::start(&app).map_err(CliError::failed)?;
    run_bootstrap(&app, bootstrap).await?;
    state.set_ready(Arc::clone(&app));
    tracing::info!(head = app.log().head().seq, "ready");

    let jobs = Jobs::start(&app, &args, &state, sink_specs, &sink_board, run_workers);
    let outcome = server.until_the_end(&app, &mut signals).await;
    jobs.stop();
    server.stop();
    if outcome.is_ok() {
        // The refusals counted since the last summaries: recorded, not lost.
        state.throttled().flush_all().await;
        // A last signed checkpoint: the log's end is then anchored too.
        if let Err(error) = app.checkpoint().await {
            tracing::error!(%error, "signing the final checkpoint failed");
        }
    }
    close_the_log(app).await?;
    outcome
}

/// Warns loudly when the master key comes from a file in the data dir.
fn warn_of_a_development_key(source: &KeySource) {
    match source {
        KeySource::Environment => {}
        KeySource::File(path) | KeySource::Generated(path) => tracing::warn!(
            path = %path.display(),
            generated = matches!(source, KeySource::Generated(_)),
            "DEVELOPMENT MASTER KEY IN USE: the master key is read from a file in the data dir. \
             Set CAIRN_MASTER_KEY (see `cairn keygen`) for any real deployment, and back the key up: \
             losing it loses every secret"
        ),
    }
}

/// How the HTTP edge behaves, from the flags and variables.
fn http_config(
    args: &ServeArgs,
    session_tokens: Arc<TokenKeys>,
    sink_board: &Arc<jobs::sinks::SinkBoard>,
) -> HttpConfig {
    HttpConfig {
        sinks: Arc::clone(sink_board),
        session_tokens,
        secure_cookies: args.environment != Environment::Development || args.tls_terminated,
        allowed_origins: args
            .cors_origins
            .iter()
            .map(|origin| origin.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect(),
        rate_limit_requests: args.rate_limit_requests,
        tls_terminated: args.tls_terminated,
        trusted_proxies: http::client_ip::TrustedProxies::new(
            args.trusted_proxies.iter().flatten().copied().collect(),
        ),
    }
}

/// The HTTP server, serving from before the log opens until told to stop.
struct Server {
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// Binds the address and starts serving; returns the address bound.
    async fn start(
        args: &ServeArgs,
        state: &ServerState,
    ) -> Result<(Server, std::net::SocketAddr), CliError> {
        let router = http::router(state.clone()).map_err(CliError::failed)?;
        let listener = TcpListener::bind(args.bind).await.map_err(|error| {
            CliError::failure_because(format!("cannot listen on {}", args.bind), error)
        })?;
        let address = listener.local_addr().map_err(|error| {
            CliError::failure_because("cannot read the listening address", error)
        })?;
        tracing::info!("listening on http://{address}");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn({
            let mut stopped = stopped.clone();
            async move {
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
            }
        });
        Ok((Server { task, stop }, address))
    }

    /// Waits for the end: a signal (Ok), or the log or the server failing.
    async fn until_the_end(
        &mut self,
        app: &Arc<App>,
        signals: &mut ShutdownSignals,
    ) -> Result<(), CliError> {
        tokio::select! {
            failure = jobs::durability_watch::wait_for_failure(Arc::clone(app)) => {
                Err(CliError::failure(format!("the event log failed and the server stops: {failure}")))
            }
            signal = signals.received() => {
                tracing::info!(signal, "shutting down");
                Ok(())
            }
            finished = &mut self.task => match finished {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(CliError::failure_because("the HTTP server failed", error)),
                Err(error) => Err(CliError::failure_because("the HTTP server stopped", error)),
            },
        }
    }

    /// Stops accepting; requests in flight finish.
    fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Opens the log (recovering a torn tail, re-applying erasures a rolled
/// back data dir lost) and folds the views, off the async runtime.
async fn open_app(
    args: &ServeArgs,
    master: MasterKey,
    settings: AppSettings,
) -> Result<(Arc<App>, Recovery), CliError> {
    let config = LogConfig {
        dir: args.data.data_dir.clone(),
        create: true,
        cadence: args.cadence.cadence(),
    };
    tokio::task::spawn_blocking(move || -> Result<(Arc<App>, Recovery), CliError> {
        let (log, recovery) =
            EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
                .map_err(open_error)?;
        if recovery.torn_records_dropped > 0 {
            tracing::warn!(
                dropped = recovery.torn_records_dropped,
                head = recovery.head.seq,
                "recovered from a torn tail"
            );
        }
        // Erasures the ledger kept that a rolled-back data dir undid: done
        // before the views open anyone's personal data.
        let reapplied = log.reapply_erasures().map_err(CliError::failed)?;
        if !reapplied.is_empty() {
            tracing::warn!(
                erasures = reapplied.len(),
                "the erasure ledger re-applied erasures the data dir had lost (it was rolled back, or restored without `cairn restore`)"
            );
        }
        let app = App::start(
            Arc::new(log),
            &master,
            settings,
            Arc::new(SystemClock),
            Arc::new(OsEntropy),
        )
        .map_err(|error| CliError::failure_because("cannot rebuild the views", error))?;
        Ok((Arc::new(app), recovery))
    })
    .await
    .map_err(|error| CliError::failure_because("log recovery stopped", error))?
}

/// Records the start (`system.started`, durable), anchors a long tail
/// recovery accepted, fails the runs the last process left unfinished and
/// finishes the erasures it recorded: all before anything is served.
async fn record_the_start(
    app: &App,
    recovery: &Recovery,
    checkpoint_every: u64,
) -> Result<(), CliError> {
    let started = cairn_core::log::NewEvent::system(
        Action::SystemStarted,
        EventPayload::SystemStarted(SystemStarted {
            version: env!("CARGO_PKG_VERSION").into(),
            record_format: RECORD_FORMAT,
            recovered_head: recovery.head.seq,
            torn_records_dropped: recovery.torn_records_dropped,
        }),
    );
    app.commit(vec![started])
        .await
        .map_err(|error| CliError::failure_because("cannot record the start", error))?;
    // A long unanchored tail that recovery accepted (a burst that a crash
    // cut short before its checkpoint) is anchored at once, so that a
    // second crash cannot leave it longer than the cadence allows.
    if app.log().head().seq.saturating_sub(recovery.anchored.seq) > checkpoint_every {
        app.checkpoint()
            .await
            .map_err(|error| CliError::failure_because("cannot sign the start", error))?;
    }
    // Runs the last process left queued or running will never finish:
    // recorded failed before anything is served or executed.
    let interrupted = cairn_app::runs::fail_unfinished(app)
        .await
        .map_err(|error| CliError::failure_because("cannot record interrupted runs", error))?;
    if interrupted > 0 {
        tracing::warn!(
            runs = interrupted,
            "runs in flight when the server stopped are recorded failed"
        );
    }
    // Erasures the log recorded whose keys a crash may have left.
    cairn_app::users::erase_recorded_subjects(app)
        .await
        .map_err(|error| CliError::failure_because("cannot finish recorded erasures", error))
}

/// The background jobs of a ready server.
struct Jobs {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    run_workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Jobs {
    /// Starts the checkpointer, the scheduler, the export sinks, the
    /// maintenance and the throttling summaries (the run workers were
    /// started before the server was ready).
    fn start(
        app: &Arc<App>,
        args: &ServeArgs,
        state: &ServerState,
        sink_specs: Vec<jobs::sinks::SinkSpec>,
        sink_board: &jobs::sinks::SinkBoard,
        run_workers: Vec<tokio::task::JoinHandle<()>>,
    ) -> Jobs {
        let mut tasks = vec![
            tokio::spawn(jobs::checkpointer::run(
                Arc::clone(app),
                Duration::from_secs(args.cadence.interval),
            )),
            tokio::spawn(jobs::scheduler::run(Arc::clone(app), jobs::scheduler::TICK)),
        ];
        tasks.extend(jobs::sinks::start(app, sink_specs, sink_board));
        tasks.push(tokio::spawn(jobs::maintenance::run(
            Arc::clone(app),
            jobs::maintenance::TICK,
        )));
        tasks.push(tokio::spawn(http::throttled::run(
            state.throttled().clone(),
        )));
        Jobs { tasks, run_workers }
    }

    /// Stops every job. A run cut short here stays running in the log and
    /// is failed at the next start.
    fn stop(&self) {
        for task in self.tasks.iter().chain(&self.run_workers) {
            task.abort();
        }
    }
}

/// Closes the log once a snapshot or a prune still running on the
/// blocking pool has finished.
async fn close_the_log(app: Arc<App>) -> Result<(), CliError> {
    tokio::task::spawn_blocking(move || {
        let _maintenance = app.maintenance();
        app.log().close()
    })
    .await
    .map_err(|error| CliError::failure_because("closing the log", error))?
    .map_err(|error| CliError::failure_because("closing the log", error))
}

/// SIGTERM and SIGINT, listened for from the very start of `serve`: a
/// signal that arrives while the server starts is acted on (gracefully)
/// once it is up, instead of killing the process with the default action.
struct ShutdownSignals {
    terminate: Option<tokio::signal::unix::Signal>,
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    fn install() -> ShutdownSignals {
        use tokio::signal::unix::{SignalKind, signal};
        ShutdownSignals {
            terminate: signal(SignalKind::terminate()).ok(),
            interrupt: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// The name of the first signal received.
    async fn received(&mut self) -> &'static str {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.interrupt) => "SIGINT",
            _ = next(&mut self.terminate) => "SIGTERM",
        }
    }
}
