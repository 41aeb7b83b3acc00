//! Webhook receivers: verify, parse, translate into a job, publish, and
//! answer only after the queue confirmed. No work happens inside a request.

mod alertmanager;
pub mod bounds;
mod chat;
mod error;
mod github;
mod health;
pub mod signature;
mod slack;
mod status;

use std::sync::Arc;

use actix_web::dev::Service;
use actix_web::web::{self, Bytes};
use actix_web::HttpRequest;
use futures_util::FutureExt;

pub use bounds::{Bounds, PreauthBudget};
pub use error::ApiError;

use bounds::{read_body, BodyRule};
use signature::SignatureError;

use crate::clock::Clock;
use crate::domain::DeliveryId;
use crate::jobs::{Job, JobEnvelope};
use crate::metrics::Metrics;
use crate::queue::{JobQueue, Published};
use crate::settings::{Secret, Settings};
use crate::telemetry::rate::{self, Admit, LineBudget};

/// Secrets of the webhook routes; an empty one disables its route.
#[derive(Clone)]
pub struct WebhookSecrets {
    pub github: Secret,
    pub alertmanager: Secret,
    pub alertmanager_allow_unauthenticated: bool,
    pub slack: Secret,
    pub chat: Secret,
}

impl WebhookSecrets {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            github: s.github.webhook_secret.clone(),
            alertmanager: s.alertmanager.token.clone(),
            alertmanager_allow_unauthenticated: s.alertmanager.allow_unauthenticated,
            slack: s.slack.signing_secret.clone(),
            chat: s.chat.secret.clone(),
        }
    }
}

pub struct AppState {
    pub queue: Arc<dyn JobQueue>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub secrets: WebhookSecrets,
    pub bounds: Bounds,
    /// What each feature is doing, as assessed at start; `/readyz` is 503
    /// while one is broken. Empty for processes that run no worker.
    pub features: Arc<crate::features::Board>,
    /// What the status page shows: the last matrix and actions.
    pub status: Arc<crate::status::Board>,
    pub status_auth: crate::settings::StatusAuth,
    /// The watched repository's key (`GitSettings::key`): every job acts
    /// on it, and runs in its lane.
    pub repository: String,
}

/// Routes of a process that receives webhooks (`all` and `receiver` roles).
pub fn receiver_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(only(web::post(), "/webhooks/github").to(github::receive))
        .service(only(web::post(), "/webhooks/alertmanager").to(alertmanager::receive))
        .service(only(web::post(), "/webhooks/slack").to(slack::receive))
        .service(only(web::post(), "/webhooks/chat").to(chat::receive));
    health_routes(cfg);
}

/// Routes every process serves, the worker role included.
pub fn health_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(only(web::get(), "/").to(status::page))
        .service(only(web::get(), "/healthz").to(health::healthz))
        .service(only(web::get(), "/readyz").to(health::readyz))
        .service(only(web::get(), "/metrics").to(health::metrics));
}

/// A resource with one method; any other gets 405 rather than the app's 404.
fn only(method: actix_web::Route, path: &str) -> OneMethod {
    OneMethod {
        method,
        path: path.to_owned(),
    }
}

struct OneMethod {
    method: actix_web::Route,
    path: String,
}

impl OneMethod {
    fn to<F, Args>(self, handler: F) -> actix_web::Resource
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        web::resource(self.path)
            .route(self.method.to(handler))
            .default_service(web::to(|| async { ApiError::MethodNotAllowed }))
    }
}

/// Builds the actix app: state, request metrics, and the given routes.
pub fn app(
    state: web::Data<AppState>,
    routes: fn(&mut web::ServiceConfig),
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics = Arc::clone(&state.metrics);
    actix_web::App::new()
        .app_data(state)
        .configure(routes)
        .default_service(web::to(|| async { ApiError::NotFound }))
        .wrap_fn(move |req, srv| {
            let route = req
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            let metrics = Arc::clone(&metrics);
            srv.call(req).map(move |res| {
                if let Ok(res) = &res {
                    metrics.request(&route, res.status().as_u16());
                }
                res
            })
        })
}

/// Reads an unauthenticated body within `rule` and checks its
/// `sha256=<hex>` HMAC header (GitHub's `X-Hub-Signature-256`).
pub(crate) async fn read_hmac_signed_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    rule: BodyRule,
    secret: &Secret,
    header_name: &'static str,
) -> Result<Bytes, ApiError> {
    let body = read_body(req, payload, rule, &state.bounds).await?;
    signature::verify_sha256_header(
        secret.expose(),
        header_name,
        header(req, header_name),
        body.bytes(),
    )
    .map_err(|e| refused(req, rule.route, e))?;
    Ok(body.authenticated())
}

/// Lines about refused requests: a stranger can send as many as they like.
static REFUSED_LINES: LineBudget = LineBudget::new(rate::LINES_PER_WINDOW, rate::WINDOW);

/// Logs a refused signature or token (route, delivery id when the sender
/// gave a well-formed one, peer; never the secret or the body) and turns
/// it into the 401.
pub(crate) fn refused(req: &HttpRequest, route: &'static str, e: SignatureError) -> ApiError {
    if let Admit::Log { suppressed } = REFUSED_LINES.admit(std::time::Instant::now()) {
        let delivery = ["X-GitHub-Delivery", signature::CHAT_REQUEST_ID]
            .into_iter()
            .find_map(|h| header(req, h))
            .and_then(|d| DeliveryId::parse(d).ok());
        tracing::warn!(
            route,
            delivery = delivery.as_ref().map(|d| d.as_ref()),
            peer = req.peer_addr().map(|a| a.to_string()),
            reason = %e,
            suppressed_before = suppressed,
            "request refused"
        );
    }
    ApiError::Unauthorized(e)
}

pub(crate) fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Wraps the job, publishes it, and returns once the queue confirmed. The
/// `webhook` span starts the event's trace; the job continues it.
pub(crate) async fn enqueue(
    state: &AppState,
    job: Job,
    idempotency_key: String,
    delivery: Option<DeliveryId>,
) -> Result<JobEnvelope, ApiError> {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "webhook",
        otel.name = %format_args!("webhook {}", job.kind()),
        otel.kind = "producer",
        kind = job.kind(),
        delivery = delivery.as_ref().map(|d| d.as_ref()),
    );
    async move {
        let envelope = JobEnvelope::new(&job, idempotency_key, delivery, state.clock.now())
            .map_err(|e| ApiError::Internal(format!("cannot encode job: {e}")))?
            .in_repository(lane_repository(&job, &state.repository));
        match state.queue.publish(&envelope).await {
            Err(e) => {
                tracing::warn!(kind = envelope.kind, error = %e, "job not queued");
                return Err(ApiError::Unavailable(e.to_string()));
            }
            // The queue logged it; the sender gets the same answer as the
            // first time, as it would for a redelivery.
            Ok(Published::Duplicate) => {
                state.metrics.duplicate(&envelope.kind);
                return Ok(envelope);
            }
            Ok(Published::Queued) => state.metrics.published(&envelope.kind),
        }
        tracing::info!(
            job = %envelope.id,
            kind = envelope.kind,
            trace_id = %envelope.trace_id,
            repository = envelope.lane_key(),
            delivery = envelope.delivery_id.as_ref().map(|d| d.as_ref()),
            "job queued"
        );
        Ok(envelope)
    }
    .instrument(span)
    .await
}

/// The repository a job acts on: the one a GitHub event names (GitHub
/// ignores case, so in lower case, as `GitSettings::key` writes it), else
/// the watched one.
fn lane_repository(job: &Job, watched: &str) -> String {
    job.named_repository()
        .filter(|r| !r.is_empty())
        .map_or_else(|| watched.to_owned(), str::to_ascii_lowercase)
}

/// Hex SHA-256 of the parts, for idempotency keys of senders without ids.
pub(crate) fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod lane_tests {
    use super::*;
    use crate::jobs::{ChatCommand, ChatSource, Push};

    #[test]
    fn a_github_event_runs_in_its_repositorys_lane_and_others_in_the_watched_one() {
        let push = |repository: &str| {
            Job::Push(Push {
                repository: repository.into(),
                git_ref: "refs/heads/main".into(),
                before: crate::domain::CommitSha::parse(&"a".repeat(40)).unwrap(),
                after: crate::domain::CommitSha::parse(&"b".repeat(40)).unwrap(),
                created: false,
                deleted: false,
                forced: false,
                commits: vec![],
                sender: "ann".into(),
            })
        };
        let chat = Job::Chat(ChatCommand {
            source: ChatSource::Generic,
            user: "ann".into(),
            user_name: None,
            text: "help".into(),
            reply_url: None,
            channel: None,
        });
        let cases = [
            (push("Acme/GitOps"), "acme/gitops"),
            (push("other/repo"), "other/repo"),
            (push(""), "acme/gitops"),
            (chat, "acme/gitops"),
        ];
        for (job, lane) in cases {
            assert_eq!(lane_repository(&job, "acme/gitops"), lane, "{job:?}");
        }
    }
}
