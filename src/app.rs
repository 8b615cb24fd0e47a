//! Wiring: builds every module from the configuration into the shared `AppState`
//! (`crate::state`) and the router. `main` and the tests start the very same `Application`.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::serve::ListenerExt;
use axum::{Router, extract::DefaultBodyLimit, http::Request, middleware};
use tokio::net::TcpListener;
use tower_http::{catch_panic::CatchPanicLayer, compression::CompressionLayer, trace::TraceLayer};

use crate::{
    access::{Access, AccessError, AdminWatch},
    admin, api,
    auth::{self, Auth, AuthError, Sealer},
    config::Config,
    contacts::Contacts,
    demo,
    directory::{Directory, DirectoryError},
    im::{Im, ImConfig, ImError},
    ldap::{LdapError, LdapService},
    mail::{self, Mail, MailError},
    observability::{self, Metrics},
    push::Push,
    state::AppState,
    store::{self, Checkpoints, Journal, StoreError},
};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("token key: {0}")]
    TokenKey(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("directory: {0}")]
    Directory(#[from] DirectoryError),
    #[error("auth: {0}")]
    Auth(#[from] AuthError),
    #[error("access: {0}")]
    Access(#[from] AccessError),
    #[error("demo company: {0}")]
    Demo(#[from] demo::DemoError),
    #[error("messaging: {0}")]
    Im(#[from] ImError),
    #[error("LDAP: {0}")]
    Ldap(#[from] LdapError),
    #[error("mail: {0}")]
    Mail(#[from] MailError),
}

/// A built service, bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

/// Opens the database and applies migrations (what `switchboard migrate` does).
pub async fn open_database(
    config: &Config,
    checkpoints: Checkpoints,
) -> Result<sea_orm::DatabaseConnection, StartupError> {
    if config.is_sqlite() {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartupError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    }
    let db = store::connect(&config.database_url, checkpoints).await?;
    store::migrate(&db).await?;
    Ok(db)
}

/// Opens storage and builds every module. `background` starts the periodic jobs (scheduled
/// LDAP syncs, history pruning); command-line tools that run once leave it off.
pub async fn open_services(config: Config, background: bool) -> Result<AppState, StartupError> {
    // The serving process checkpoints SQLite in the background (`run_until_stopped`).
    let checkpoints = if background {
        Checkpoints::Background
    } else {
        Checkpoints::InCommit
    };
    let db = open_database(&config, checkpoints).await?;
    let journal = Arc::new(Journal::open(db).await?);
    let directory = Arc::new(Directory::load(journal.clone()).await?);
    let token_key = auth::load_token_key(config.token_secret.as_ref(), &config.data_dir)
        .map_err(StartupError::TokenKey)?;
    let auth = Arc::new(
        Auth::open(
            journal.clone(),
            directory.clone(),
            &token_key,
            config.token_ttl,
        )
        .await?,
    );
    let access = Arc::new(Access::load(journal.clone(), directory.clone()).await?);
    auth.set_admin_lookup(access.clone());
    directory.subscribe(auth::DirectoryWatch::new(&auth));
    access.subscribe(AdminWatch::new(&auth));
    let contacts = Contacts::load(journal.clone(), directory.clone(), access.clone()).await?;
    directory.subscribe(contacts.clone());
    access.subscribe(contacts.clone());
    // Before the demo seeding: department chats follow the directory from its first commit.
    let im = Im::start(
        journal.db().clone(),
        directory.clone(),
        contacts.clone(),
        auth.clone(),
        &config.data_dir,
        ImConfig::from_env(|key| std::env::var(key).ok()),
    )
    .await?;
    // Always there: without an `[ldap]` table it waits for IT's first save in the portal.
    let ldap = LdapService::new(
        config.ldap.clone(),
        directory.clone(),
        access.clone(),
        Sealer::derive(&token_key),
    )
    .await?;
    auth.set_external_login(ldap.clone());
    if background {
        ldap.spawn_scheduler();
    }
    if let Some(password) = auth.bootstrap_admin(config.admin_password.as_ref()).await? {
        // Shown once, on the console only (never through tracing, whose output may be shipped),
        // and on stderr, so that a command's stdout stays the JSON a script parses.
        eprintln!(
            "\n  Created the admin account.\n  login:    admin\n  password: {password}\n  (shown once; set SWITCHBOARD_ADMIN_PASSWORD to choose it)\n"
        );
    }
    if background {
        // Sync history older than the retention is pruned at start and then every hour.
        let (contacts, journal, retention) =
            (contacts.clone(), journal.clone(), config.contacts_retention);
        tokio::spawn(async move {
            let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every_hour.tick().await;
                if let Err(error) = prune_history(&contacts, &journal, retention).await {
                    tracing::warn!(%error, "pruning contact-sync history failed");
                }
            }
        });
    }
    if config.demo {
        demo::seed_if_empty(&directory, &auth, &access).await?;
    }
    // After the demo seeding: at the first start everyone present counts as welcomed (the
    // demo company is not mailed); later staff are welcomed from their first commit on.
    let mail = Mail::start(
        journal.db().clone(),
        directory.clone(),
        auth.clone(),
        access.clone(),
        im.clone(),
        config.mail.clone(),
        &token_key,
        background,
    )
    .await?;
    mail.watch_ldap(&ldap);
    let push = Push::start(
        journal.db().clone(),
        directory.clone(),
        im.clone(),
        &auth,
        config.push.clone(),
        background,
    );

    // Department chats are in step with the directory before the first client connects.
    im.departments_settled().await;
    Ok(AppState {
        config: Arc::new(config),
        directory,
        auth,
        access,
        contacts,
        im,
        ldap,
        mail,
        push,
        metrics: Arc::new(Metrics::default()),
    })
}

/// Forgets what is older than the retention: the contact-sync history (older clients reset)
/// and the changelog rows (nothing reads them once they are past it).
pub async fn prune_history(
    contacts: &Contacts,
    journal: &Journal,
    retention: Duration,
) -> Result<(), StoreError> {
    if let Some(cutoff) = contacts.prune(journal, retention).await? {
        let deleted = journal.compact_changes(cutoff).await?;
        tracing::info!(%cutoff, deleted, "changelog compacted");
    }
    Ok(())
}

impl Application {
    /// Opens storage, loads the directory, bootstraps the admin, seeds the demo company when
    /// asked, and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let listen = config.listen;
        let state = open_services(config, true).await?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| StartupError::Listen {
                addr: listen,
                source,
            })?;
        if let Ok(addr) = listener.local_addr() {
            state.mail.set_listen_address(addr);
        }
        Ok(Self { listener, state })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.listen)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = self.local_addr();
        tracing::info!(%addr, "switchboard listening");
        let contacts = self.state.contacts.clone();
        let im = self.state.im.clone();
        let mail = self.state.mail.clone();
        let push = self.state.push.clone();
        // WebSocket sessions outlive graceful shutdown (they are upgraded connections): ask
        // them to close as soon as the signal comes.
        let shutdown = {
            let im = im.clone();
            async move {
                shutdown.await;
                im.begin_drain();
            }
        };
        let checkpointer = crate::store::spawn_checkpointer(self.state.directory.db().clone());
        let app = router(self.state);
        // Small frames (acks, pushes) must leave at once: with Nagle's algorithm a push waits
        // for the client's delayed ACK, adding up to 200 ms to some deliveries.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        contacts.flush().await;
        mail.shutdown().await;
        // After messaging: what its last commits handed over is in the push outbox.
        im.shutdown().await;
        push.shutdown().await;
        if let Some(checkpointer) = checkpointer {
            checkpointer.abort();
        }
        served
    }
}

/// The whole HTTP surface with its middleware.
pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
        )
    });
    api::router()
        .merge(admin::router(state.clone()))
        .merge(crate::webapp::router())
        .merge(mail::pages::router(state.mail.clone()))
        .fallback(api::not_found)
        .layer(middleware::from_fn(admin::security_headers))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            observability::track,
        ))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            api::ApiError::Internal("handler panicked".into()).into_response()
        }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(60),
        ))
        .layer(trace)
        .with_state(state)
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
