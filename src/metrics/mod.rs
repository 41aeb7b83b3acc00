//! Prometheus metrics, rendered in text format at `GET /metrics`.
//!
//! Two groups: how the service runs (HTTP, queue, jobs; this file) and what
//! it knows and did ([`domain`]: pins, lookups, PRs, promotions, rollbacks,
//! chat commands). Labels take values from small fixed sets or from the
//! configured repository's own names (environments, charts, repository
//! hosts), never versions, so the number of series stays bounded.
//! Features that run inside a job record through [`ambient`], which the
//! worker scopes to the service's registry.

pub mod ambient;
pub mod classify;
pub mod domain;
mod github;
mod pins;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use ambient::within;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabels {
    kind: String,
}

/// Job durations from 5 ms to about 80 s: handlers call GitHub and Argo CD.
fn job_duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    published: Family<KindLabels, Counter>,
    duplicates: Family<KindLabels, Counter>,
    consumed: Family<KindLabels, Counter>,
    retried: Family<KindLabels, Counter>,
    parked: Family<KindLabels, Counter>,
    job_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    queue_connected: Gauge,
    repositories_served: Gauge,
    domain: domain::Domain,
    github: github::Github,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chartpilot");
        let requests = Family::<RequestLabels, Counter>::default();
        let published = Family::<KindLabels, Counter>::default();
        let duplicates = Family::<KindLabels, Counter>::default();
        let consumed = Family::<KindLabels, Counter>::default();
        let retried = Family::<KindLabels, Counter>::default();
        let parked = Family::<KindLabels, Counter>::default();
        let job_duration = Family::<KindLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            job_duration_histogram,
        );
        let queue_connected = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "jobs_published",
            "Jobs confirmed by the queue",
            published.clone(),
        );
        registry.register(
            "jobs_duplicate",
            "Deliveries whose idempotency key was queued before: answered without queueing again",
            duplicates.clone(),
        );
        registry.register("jobs_consumed", "Jobs taken by a worker", consumed.clone());
        registry.register(
            "jobs_retried",
            "Jobs scheduled for another attempt",
            retried.clone(),
        );
        registry.register(
            "jobs_parked",
            "Jobs moved to the parking queue",
            parked.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "Time a handler spent on a job",
            job_duration.clone(),
        );
        registry.register(
            "queue_connected",
            "1 while the queue accepts jobs",
            queue_connected.clone(),
        );
        let repositories_served = Gauge::default();
        registry.register(
            "repositories_served",
            "GitOps repositories this process serves (configured, or found by repositories.discover)",
            repositories_served.clone(),
        );
        let domain = domain::Domain::register(&mut registry);
        let github = github::Github::register(&mut registry);
        Self {
            registry,
            requests,
            published,
            duplicates,
            consumed,
            retried,
            parked,
            job_duration,
            queue_connected,
            repositories_served,
            domain,
            github,
        }
    }

    fn kind(kind: &str) -> KindLabels {
        KindLabels {
            kind: kind.to_owned(),
        }
    }

    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    pub fn published(&self, kind: &str) {
        self.published.get_or_create(&Self::kind(kind)).inc();
    }

    pub fn duplicate(&self, kind: &str) {
        self.duplicates.get_or_create(&Self::kind(kind)).inc();
    }

    pub fn consumed(&self, kind: &str, seconds: f64) {
        self.consumed.get_or_create(&Self::kind(kind)).inc();
        self.job_duration
            .get_or_create(&Self::kind(kind))
            .observe(seconds);
    }

    pub fn retried(&self, kind: &str) {
        self.retried.get_or_create(&Self::kind(kind)).inc();
    }

    pub fn parked(&self, kind: &str) {
        self.parked.get_or_create(&Self::kind(kind)).inc();
    }

    pub fn set_repositories_served(&self, n: usize) {
        self.repositories_served
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn set_queue_connected(&self, connected: bool) {
        self.queue_connected.set(i64::from(connected));
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
