//! Prometheus metrics, rendered in text format at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// One gauge per pin kind, environment and update type: the version
/// matrix as numbers (no chart or version labels, so the series stay few).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PinLabels {
    kind: String,
    environment: String,
    /// `major`, `minor`, `patch`, `none` (up to date or nothing allowed),
    /// `range`, `unresolved`, `unknown` (offline or the lookup failed).
    update: String,
}

/// Job durations from 5 ms to about 80 s: handlers call GitHub and Argo CD.
fn job_duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    published: Family<KindLabels, Counter>,
    consumed: Family<KindLabels, Counter>,
    retried: Family<KindLabels, Counter>,
    parked: Family<KindLabels, Counter>,
    job_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    queue_connected: Gauge,
    pins: Family<PinLabels, Gauge>,
    pins_drifting: Family<PinLabels, Gauge>,
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
        let consumed = Family::<KindLabels, Counter>::default();
        let retried = Family::<KindLabels, Counter>::default();
        let parked = Family::<KindLabels, Counter>::default();
        let job_duration = Family::<KindLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            job_duration_histogram,
        );
        let queue_connected = Gauge::default();
        let pins = Family::<PinLabels, Gauge>::default();
        let pins_drifting = Family::<PinLabels, Gauge>::default();
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
        registry.register(
            "pins",
            "Chart pins by kind, environment and update type, as of the last upgrade pass",
            pins.clone(),
        );
        registry.register(
            "pins_drifting",
            "Pins ahead of or behind an earlier environment, as of the last upgrade pass",
            pins_drifting.clone(),
        );
        Self {
            registry,
            requests,
            published,
            consumed,
            retried,
            parked,
            job_duration,
            queue_connected,
            pins,
            pins_drifting,
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

    pub fn set_queue_connected(&self, connected: bool) {
        self.queue_connected.set(i64::from(connected));
    }

    /// The pin gauges from `m`, replacing the previous pass's series (a
    /// chart that left an environment must not linger).
    pub fn set_pins(&self, m: &crate::matrix::Matrix) {
        self.pins.clear();
        self.pins_drifting.clear();
        for row in &m.rows {
            for (env, cell) in &row.cells {
                for pin in &cell.pins {
                    let update = if pin.reason.is_some() {
                        "unresolved"
                    } else if pin.constraint.is_some() {
                        "range"
                    } else if !m.summary.looked_up || cell.error.is_some() {
                        "unknown"
                    } else {
                        cell.update.unwrap_or("none")
                    };
                    let labels = PinLabels {
                        kind: row.tier.pin_kind().to_owned(),
                        environment: env.clone(),
                        update: update.to_owned(),
                    };
                    self.pins.get_or_create(&labels).inc();
                    if cell.drift.is_some() {
                        self.pins_drifting.get_or_create(&labels).inc();
                    }
                }
            }
        }
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::{Pin, PinKind};
    use crate::promote::freeze::Freezes;
    use crate::settings::UpdateType;
    use crate::upgrade::source::Latest;

    fn pin(env: &str, version: &str) -> Pin {
        Pin {
            file: format!("apps/{env}/a.yaml"),
            line: 1,
            kind: PinKind::Argocd,
            name: format!("a-{env}"),
            env: Some(env.into()),
            repository: Some("https://charts.example.com".into()),
            chart: Some("a".into()),
            version: Some(version.into()),
            span: None,
            reason: None,
            constraint: None,
            local_chart: false,
            address: None,
        }
    }

    /// The gauges say what the matrix says, and a second pass replaces the
    /// first's series.
    #[test]
    fn pin_gauges_follow_the_last_pass() {
        let envs = ["dev", "prod"].map(str::to_owned);
        let pins = [pin("dev", "1.1.0"), pin("prod", "1.0.0")];
        let latest = [
            Latest::default(),
            Latest {
                latest: Some("1.1.0".into()),
                update: Some(UpdateType::Minor),
                ..Latest::default()
            },
        ];
        let m = Metrics::new();
        m.set_pins(&crate::matrix::build(
            &pins,
            Some(&latest),
            &envs,
            &Freezes::default(),
        ));
        let text = m.render();
        assert!(
            text.contains(
                "chartpilot_pins{kind=\"argocd\",environment=\"prod\",update=\"minor\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("chartpilot_pins{kind=\"argocd\",environment=\"dev\",update=\"none\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "chartpilot_pins_drifting{kind=\"argocd\",environment=\"prod\",update=\"minor\"} 1"
            ),
            "{text}"
        );
        m.set_pins(&crate::matrix::build(
            &pins[..1],
            None,
            &envs,
            &Freezes::default(),
        ));
        let text = m.render();
        assert!(!text.contains("environment=\"prod\""), "{text}");
        assert!(
            text.contains(
                "chartpilot_pins{kind=\"argocd\",environment=\"dev\",update=\"unknown\"} 1"
            ),
            "{text}"
        );
    }
}
