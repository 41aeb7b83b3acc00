//! Builds the service from settings: queue, HTTP server, worker.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, HttpServer};
use anyhow::Context;
use tokio::sync::watch;

use crate::clock::{Clock, SystemClock};
use crate::features::{Board, Features};
use crate::http::{self, AppState, Bounds, PreauthBudget, WebhookSecrets};
use crate::metrics::Metrics;
use crate::queue::{self, JobQueue};
use crate::settings::{QueueKind, Settings, UpgradeSettings};
use crate::worker::repos::Repositories;
use crate::worker::{schedule, JobHandler, LoggingHandler, Worker};

/// Time in-flight HTTP requests get to finish at shutdown; a webhook waits
/// at most `queue.confirm_timeout` for the broker, well under this.
const HTTP_SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// Time a connection gets to send its request line and headers: senders
/// send them at once, so this is for slow-loris headers, not slow links.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Time a closing connection gets to take the rest of our answer.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Idle time before a kept-alive connection is closed; webhook senders
/// reuse connections within seconds or not at all.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Receivers and worker in one process.
    All,
    /// Webhook receivers only: publish jobs, run none.
    Receiver,
    /// Worker only: run jobs; serves health and metrics.
    Worker,
}

impl Role {
    fn receives(self) -> bool {
        matches!(self, Role::All | Role::Receiver)
    }
    fn works(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// The upgrade schedule's settings, the keys of the repositories it
/// passes (they change with discovery), and its clock.
type Schedule = (
    UpgradeSettings,
    watch::Receiver<Vec<String>>,
    Arc<dyn Clock>,
);

pub struct Application {
    port: u16,
    server: Server,
    worker: Option<Worker>,
    queue: Arc<dyn JobQueue>,
    /// The upgrade schedule, run beside the worker.
    /// With the keys of the repositories its passes act on.
    schedule: Option<Schedule>,
    features: Arc<Board>,
    /// What the re-probe task needs while a feature is broken.
    reprobe: Option<(Settings, Arc<Repositories>)>,
}

impl Application {
    /// The service as `chartpilot serve` runs it.
    pub async fn build(settings: &Settings, role: Role) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        if !role.works() {
            let handler: Arc<dyn JobHandler> = Arc::new(LoggingHandler);
            let keys = configured_keys(settings);
            return Self::build_inner(settings, role, handler, clock, Features::default(), keys)
                .await;
        }
        let handler = Arc::new(Repositories::from_settings(settings, Arc::clone(&clock)).await);
        let features = crate::features::assess_repositories(settings, &handler).await;
        let as_job: Arc<dyn JobHandler> = Arc::clone(&handler) as Arc<dyn JobHandler>;
        // The schedule passes what the repositories serve (discovery
        // changes it).
        let keys = handler.keys();
        let mut app = Self::build_inner(settings, role, as_job, clock, features, keys).await?;
        app.reprobe = Some((settings.clone(), handler));
        Ok(app)
    }

    /// Like [`Application::build`] with the job handler and clock given.
    pub async fn build_with(
        settings: &Settings,
        role: Role,
        handler: Arc<dyn JobHandler>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let keys = configured_keys(settings);
        Self::build_inner(settings, role, handler, clock, Features::default(), keys).await
    }

    async fn build_inner(
        settings: &Settings,
        role: Role,
        handler: Arc<dyn JobHandler>,
        clock: Arc<dyn Clock>,
        features: Features,
        keys: watch::Receiver<Vec<String>>,
    ) -> anyhow::Result<Self> {
        let features = Arc::new(Board::new(features));
        if settings.queue.kind == QueueKind::Embedded && role != Role::All {
            anyhow::bail!(
                "queue.kind = \"embedded\" keeps jobs inside one process: run --role all, \
                 or use queue.kind = \"amqp\" to split receivers and workers"
            );
        }
        let schedule = role
            .works()
            .then(|| (settings.upgrade.clone(), keys, Arc::clone(&clock)));
        let metrics = Arc::new(Metrics::new());
        handler.attach_metrics(&metrics);
        let status = Arc::new(crate::status::Board::new(role.works()));
        handler.attach_status(&status);
        let status_auth = crate::settings::StatusAuth::parse(&settings.server.status_auth)
            .map_err(|e| anyhow::anyhow!("server.status_auth: {e}"))?;
        let queue = queue::open(&settings.queue, Arc::clone(&metrics), role.works())
            .await
            .context("cannot open the job queue")?;
        let addr = settings.listen_addr()?;
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            queue: Arc::clone(&queue),
            metrics: Arc::clone(&metrics),
            clock,
            secrets: WebhookSecrets::from_settings(settings),
            bounds: Bounds {
                max_body_bytes: settings.server.max_body_bytes,
                body_timeout: settings.server.body_timeout,
                budget: PreauthBudget::new(settings.server.max_unauthenticated_bytes),
            },
            features: Arc::clone(&features),
            status,
            status_auth,
            // Jobs that name no repository: the one served, or, with
            // several, none (the worker hands them to each).
            repository: if settings.serves_many() {
                String::new()
            } else {
                settings.git.key()
            },
        });
        let routes: fn(&mut web::ServiceConfig) = if role.receives() {
            http::receiver_routes
        } else {
            http::health_routes
        };
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let server = HttpServer::new(move || http::app(state.clone(), routes))
            .workers(workers)
            // actix counts connections per worker.
            .max_connections(settings.server.max_connections.div_ceil(workers))
            .client_request_timeout(REQUEST_HEAD_TIMEOUT)
            .client_disconnect_timeout(DISCONNECT_TIMEOUT)
            .keep_alive(KEEP_ALIVE)
            .listen(listener)?
            .disable_signals()
            .shutdown_timeout(HTTP_SHUTDOWN_TIMEOUT_SECS)
            .run();
        let worker = role
            .works()
            .then(|| Worker::new(Arc::clone(&queue), handler, metrics, &settings.queue));
        tracing::info!(%addr, port, role = clap::ValueEnum::to_possible_value(&role).as_ref().map(clap::builder::PossibleValue::get_name), queue = match settings.queue.kind { crate::settings::QueueKind::Embedded => "embedded", crate::settings::QueueKind::Amqp => "amqp" }, "chartpilot built");
        Ok(Self {
            port,
            server,
            worker,
            queue,
            schedule,
            features,
            reprobe: None,
        })
    }

    /// What each feature is doing, as last assessed.
    pub fn features(&self) -> Features {
        self.features.get()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn queue(&self) -> Arc<dyn JobQueue> {
        Arc::clone(&self.queue)
    }

    /// The server to spawn and the worker to drive by hand, for tests.
    pub fn into_parts(self) -> (Server, Option<Worker>, Arc<dyn JobQueue>) {
        (self.server, self.worker, self.queue)
    }

    /// Serves and works until `stop` resolves or the server fails; then
    /// stops taking requests and jobs, finishes those in flight, and
    /// closes the queue. Says which part stopped and why.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut server = tokio::spawn(self.server);
        let schedule = self.schedule.map(|(s, repository, clock)| {
            tokio::spawn(schedule::run(
                s,
                repository,
                Arc::clone(&self.queue),
                clock,
                shutdown_rx.clone(),
            ))
        });
        let discovery = self.reprobe.as_ref().map(|(settings, handler)| {
            tokio::spawn(
                Arc::clone(handler).discover_every(settings.upgrade.interval, shutdown_rx.clone()),
            )
        });
        let reprobe = self.reprobe.map(|(settings, handler)| {
            tokio::spawn(crate::features::reprobe(
                Arc::clone(&self.features),
                settings,
                handler,
                shutdown_rx.clone(),
            ))
        });
        let worker = self.worker.map(|w| tokio::spawn(w.run(shutdown_rx)));
        let result = tokio::select! {
            () = stop => {
                tracing::info!("shutdown requested");
                Ok(())
            }
            r = &mut server => {
                tracing::error!("http server stopped");
                r.context("http server task failed")?.context("http server failed")
            }
        };
        shutdown_tx.send_replace(true);
        handle.stop(true).await;
        if let Some(s) = schedule {
            let _ = s.await;
        }
        if let Some(d) = discovery {
            let _ = d.await;
        }
        if let Some(r) = reprobe {
            let _ = r.await;
        }
        if let Some(w) = worker {
            if w.await.is_err() {
                tracing::error!("worker task failed");
            }
        }
        self.queue.close().await;
        // Give the broker connection a moment to flush its close frame.
        tokio::time::sleep(Duration::from_millis(50)).await;
        tracing::info!("chartpilot stopped");
        result
    }
}

/// Resolves on SIGTERM (Kubernetes) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The keys of the repositories the settings list (none when discovering:
/// those come from the rounds).
fn configured_keys(settings: &Settings) -> watch::Receiver<Vec<String>> {
    let keys = if settings.discovers() {
        Vec::new()
    } else {
        settings.contexts().iter().map(|c| c.git.key()).collect()
    };
    watch::channel(keys).1
}
