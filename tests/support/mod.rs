//! One entry point for integration tests: `spawn_app` builds chartpilot from
//! settings exactly as `serve` does, on port 0, with test-made secrets.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod contract;
pub mod dashboard;
pub mod fake_github;
pub mod handler;
pub mod logs;
pub mod mock_argocd;
pub mod mock_kube;
pub mod process;
pub mod proxy;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chartpilot::clock::{Clock, SystemClock};
use chartpilot::http::signature::{sign_chat, sign_sha256, sign_slack};
use chartpilot::queue::JobQueue;
use chartpilot::settings::Settings;
use chartpilot::startup::{Application, Role};
use chartpilot::worker::Worker;

pub use handler::{Mode, RecordingHandler};

/// How long a test waits for something that normally takes milliseconds
/// (a connection, a delivery) before it calls it a failure.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn amqp_url() -> String {
    std::env::var("CHARTPILOT_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

pub fn random_secret() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Amqp,
}

pub struct TestSecrets {
    pub github: String,
    pub alertmanager: String,
    pub slack: String,
    pub chat: String,
}

impl TestSecrets {
    /// A fresh random secret for every route.
    pub fn random() -> Self {
        Self {
            github: random_secret(),
            alertmanager: random_secret(),
            slack: random_secret(),
            chat: random_secret(),
        }
    }
}

/// `("GIT__PROVIDER", v)` → `("CHARTPILOT__GIT__PROVIDER", v)`, for
/// [`test_settings`]'s overrides.
pub fn env_vars(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (format!("CHARTPILOT__{k}"), v.clone()))
        .collect()
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub worker: Worker,
    pub queue: Arc<dyn JobQueue>,
    pub handler: Arc<RecordingHandler>,
    pub secrets: TestSecrets,
    pub settings: Settings,
    pub server: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub backend: Backend,
    pub amqp_url: String,
    pub clock: Arc<dyn Clock>,
    pub mode: Mode,
    pub extra_env: Vec<(String, String)>,
}

impl Options {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            amqp_url: amqp_url(),
            clock: Arc::new(SystemClock),
            mode: Mode::Succeed,
            extra_env: Vec::new(),
        }
    }
}

/// Settings for a test: defaults plus overrides, as `serve` would load them.
pub fn test_settings(
    backend: Backend,
    amqp_url: &str,
    dir: &std::path::Path,
    secrets: &TestSecrets,
    extra: &[(String, String)],
) -> Settings {
    let mut env: HashMap<String, String> = [
        ("SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        (
            "QUEUE__KIND",
            match backend {
                Backend::Embedded => "embedded".to_owned(),
                Backend::Amqp => "amqp".to_owned(),
            },
        ),
        ("QUEUE__URL", amqp_url.to_owned()),
        ("QUEUE__PATH", dir.join("queue").display().to_string()),
        (
            "QUEUE__PREFIX",
            format!(
                "cptest-{}-{}",
                chrono::Utc::now().timestamp(),
                uuid::Uuid::new_v4().simple()
            ),
        ),
        ("QUEUE__MAX_ATTEMPTS", "3".to_owned()),
        ("QUEUE__RETRY_DELAYS", "300ms,600ms".to_owned()),
        ("QUEUE__CONFIRM_TIMEOUT", "3s".to_owned()),
        // Fewer quorum queues per test than the default 16: each is
        // declared and deleted by every test on the shared broker.
        ("QUEUE__LANES", "4".to_owned()),
        ("GITHUB__WEBHOOK_SECRET", secrets.github.clone()),
        ("ALERTMANAGER__TOKEN", secrets.alertmanager.clone()),
        ("SLACK__SIGNING_SECRET", secrets.slack.clone()),
        ("CHAT__SECRET", secrets.chat.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("CHARTPILOT__{k}"), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.clone(), v.clone());
    }
    // An empty file, so a config/default.toml in the working directory
    // cannot leak into the test.
    let file = dir.join("test.toml");
    std::fs::write(&file, "").unwrap();
    Settings::load(Some(&file), &env).unwrap()
}

pub async fn spawn_app(opts: Options) -> TestApp {
    init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let secrets = TestSecrets::random();
    let settings = test_settings(
        opts.backend,
        &opts.amqp_url,
        dir.path(),
        &secrets,
        &opts.extra_env,
    );
    // Overrides in extra_env win; sign with what the app really uses.
    let secrets = TestSecrets {
        github: settings.github.webhook_secret.expose().to_owned(),
        alertmanager: settings.alertmanager.token.expose().to_owned(),
        slack: settings.slack.signing_secret.expose().to_owned(),
        chat: settings.chat.secret.expose().to_owned(),
    };
    let handler = Arc::new(RecordingHandler::new(opts.mode));
    let app = Application::build_with(&settings, Role::All, handler.clone(), opts.clock)
        .await
        .unwrap();
    let port = app.port();
    let (server, worker, queue) = app.into_parts();
    let handle = server.handle();
    tokio::spawn(server);
    let app = TestApp {
        base: format!("http://127.0.0.1:{port}"),
        // Idle connections are dropped before actix's 5 s keep-alive closes
        // them, so a request after a pause (a broker restart) never races a
        // server-side close.
        client: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
        worker: worker.unwrap(),
        queue,
        handler,
        secrets,
        settings,
        server: handle,
        _dir: dir,
    };
    if opts.backend == Backend::Amqp {
        app.wait_ready(true).await;
    }
    app
}

impl TestApp {
    pub async fn post_github(&self, event: &str, delivery: &str, body: &[u8]) -> reqwest::Response {
        let sig = sign_sha256(&self.secrets.github, body);
        self.client
            .post(format!("{}/webhooks/github", self.base))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", sig)
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    pub async fn post_alertmanager(&self, body: &[u8]) -> reqwest::Response {
        self.client
            .post(format!("{}/webhooks/alertmanager", self.base))
            .bearer_auth(&self.secrets.alertmanager)
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    pub async fn post_slack(&self, timestamp: i64, body: &[u8]) -> reqwest::Response {
        let sig = sign_slack(&self.secrets.slack, timestamp, body);
        self.client
            .post(format!("{}/webhooks/slack", self.base))
            .header("X-Slack-Request-Timestamp", timestamp.to_string())
            .header("X-Slack-Signature", sig)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Posts a generic chat command signed now, without a request id.
    pub async fn post_chat(&self, body: &[u8]) -> reqwest::Response {
        let now = chrono::Utc::now().timestamp();
        self.chat_request(&self.secrets.chat, now, None, body)
            .send()
            .await
            .unwrap()
    }

    /// A generic chat request signed with `secret` at `timestamp`.
    pub fn chat_request(
        &self,
        secret: &str,
        timestamp: i64,
        request_id: Option<&str>,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        chat_request(
            &self.client,
            &self.base,
            secret,
            timestamp,
            request_id,
            body,
        )
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// Polls `/readyz` until it says `ready` (200) or not (503).
    pub async fn wait_ready(&self, ready: bool) {
        let want = if ready { 200 } else { 503 };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            // A transport error is "not yet", like a wrong status.
            let res = self
                .client
                .get(format!("{}/readyz", self.base))
                .send()
                .await;
            if res.is_ok_and(|r| r.status().as_u16() == want) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/readyz never answered {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the worker for one job, failing the test if none comes.
    pub async fn process_one(&self) -> chartpilot::worker::Outcome {
        next_outcome(&self.worker).await
    }

    /// Asserts that no job arrives within `wait`.
    pub async fn assert_no_job(&self, wait: Duration) {
        if let Ok(Some(r)) = tokio::time::timeout(wait, self.worker.process_one()).await {
            panic!("unexpected job: {r:?}");
        }
    }

    /// Deletes this test's exchange and queues from the broker.
    pub async fn cleanup(self) {
        self.queue.close().await;
        self.server.stop(false).await;
        if self.settings.queue.kind == chartpilot::settings::QueueKind::Amqp {
            delete_topology(&self.settings).await;
        }
    }
}

/// A request to the generic chat route at `base`, signed as its senders
/// sign: `X-Chartpilot-Timestamp` and the body, and the request id if any.
pub fn chat_request(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    timestamp: i64,
    request_id: Option<&str>,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let mut req = client
        .post(format!("{base}/webhooks/chat"))
        .header("X-Chartpilot-Timestamp", timestamp.to_string())
        .header(
            "X-Chartpilot-Signature",
            sign_chat(secret, timestamp, request_id, body),
        )
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    if let Some(id) = request_id {
        req = req.header("X-Chartpilot-Request-Id", id);
    }
    req
}

/// Removes what `AmqpQueue` declared for `settings.queue.prefix`.
pub async fn delete_topology(settings: &Settings) {
    delete_topology_at(settings, &amqp_url()).await;
}

/// Removes what `AmqpQueue` declared for `settings.queue.prefix` on the
/// broker at `url`.
pub async fn delete_topology_at(settings: &Settings, url: &str) {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let Ok(conn) = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await
    else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    let p = &settings.queue.prefix;
    let mut queues = vec![format!("{p}.jobs"), format!("{p}.parked")];
    queues.extend((0..settings.queue.lanes).map(|n| format!("{p}.lane.{n}")));
    queues.extend(
        settings
            .queue
            .retry_delays
            .iter()
            .map(|d| format!("{p}.retry.{}ms", d.as_millis())),
    );
    for q in queues {
        let _ = ch
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    for x in [format!("{p}.lanes"), format!("{p}.nolane"), p.clone()] {
        let _ = ch
            .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "test cleanup".into()).await;
}

/// Logs go to the test output only when TEST_LOG is set.
pub fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = chartpilot::telemetry::init(
            chartpilot::settings::LogFormat::Text,
            "info,chartpilot=debug",
            std::io::stderr,
        );
    }
}

/// A listener on 127.0.0.1:0 and its base URL, for the test servers.
pub fn loopback() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Serves the routes `configure` sets up on `listener`, one worker, in the
/// background; the handle stops it.
pub fn serve(
    listener: std::net::TcpListener,
    configure: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
) -> actix_web::dev::ServerHandle {
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
    let handle = server.handle();
    tokio::spawn(server);
    handle
}

/// The service `serve` runs, on `settings`, with its real handler: every
/// part it needs (upgrades, syncs, promotions, rollbacks) must have been
/// set up, or the test fails saying which did not. The HTTP server runs
/// in the background; the worker is returned to drive by hand or to run.
pub async fn start_service(settings: &Settings) -> (u16, Worker) {
    use chartpilot::worker::service::ServiceHandler;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let handler = ServiceHandler::from_settings(settings, Arc::clone(&clock)).await;
    let parts = [
        ("upgrades", handler.upgrader.as_ref().err()),
        ("syncs", handler.syncer.as_ref().err()),
        ("promotions", handler.promoter.as_ref().err()),
        ("rollbacks", handler.rollbacker.as_ref().err()),
        ("chat commands", handler.chatops.as_ref().err()),
        ("checks", handler.checker.as_ref().err()),
    ];
    for (what, err) in parts {
        assert!(err.is_none(), "{what} are off: {err:?}");
    }
    let app = Application::build_with(settings, Role::All, Arc::new(handler), clock)
        .await
        .unwrap();
    let port = app.port();
    let (server, worker, _queue) = app.into_parts();
    tokio::spawn(server);
    (port, worker.unwrap())
}

/// A Helm chart archive (`.tgz`) of `files`, given as (path below the
/// chart's folder, text), as `helm package` lays it out.
pub fn chart_tgz(name: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (path, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("{name}/{path}"), text.as_bytes())
            .unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// The git CLI as a person runs it in a test repository; panics with
/// git's own words when it fails.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Person",
            "-c",
            "user.email=person@example.org",
        ])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A listener on 127.0.0.1 that records the JSON body of every POST to
/// `/hook` (a Slack webhook or `response_url`, a chat `reply_url`).
/// Returns its URL, what it received, and its handle.
pub fn json_listener() -> (
    String,
    Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    actix_web::dev::ServerHandle,
) {
    use actix_web::web;
    type Seen = Arc<std::sync::Mutex<Vec<serde_json::Value>>>;
    let seen: Seen = Arc::default();
    let (l, url) = loopback();
    let data = web::Data::new(Arc::clone(&seen));
    let handle = serve(l, move |cfg| {
        cfg.app_data(data.clone()).route(
            "/hook",
            web::post().to(
                |seen: web::Data<Seen>, body: web::Json<serde_json::Value>| async move {
                    seen.lock().unwrap().push(body.into_inner());
                    actix_web::HttpResponse::Ok().body("ok")
                },
            ),
        );
    });
    (format!("{url}/hook"), seen, handle)
}

/// Posts a GitHub webhook to a service on `port`, signed with `secret`
/// under a fresh delivery id; returns the answer's status.
pub async fn post_github_event(port: u16, secret: &str, event: &str, body: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhooks/github"))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string())
        .header("X-Hub-Signature-256", sign_sha256(secret, body.as_bytes()))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The outcome of the next job `worker` settles, within [`PATIENCE`].
pub async fn next_outcome(worker: &Worker) -> chartpilot::worker::Outcome {
    tokio::time::timeout(PATIENCE, worker.process_one())
        .await
        .expect("no job arrived")
        .expect("queue closed")
        .expect("settling failed")
}

/// A generic chat command as a job, keyed `test:<text>`: the queue tests'
/// stock job.
pub fn chat_job(text: &str) -> chartpilot::jobs::JobEnvelope {
    use chartpilot::jobs::{ChatCommand, ChatSource, Job, JobEnvelope};
    let job = Job::Chat(ChatCommand {
        source: ChatSource::Generic,
        user: "ann".into(),
        user_name: None,
        text: text.into(),
        reply_url: None,
        channel: None,
    });
    JobEnvelope::new(&job, format!("test:{text}"), None, chrono::Utc::now()).unwrap()
}
