//! What chartpilot knows and did, as metrics: the pins of the last upgrade
//! pass, chart lookups, pull request actions, promotion checks, rollback
//! decisions, chat commands, and the time from a webhook to its effect.

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::{classify, KindLabels, Metrics};
use crate::upgrade::run::Releases;

/// One gauge per pin kind, environment and update type: the version
/// matrix as numbers (no chart or version labels, so the series stay few).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PinLabels {
    /// The GitOps repository the pin is in (`GitSettings::key`).
    pub gitops_repository: String,
    pub kind: String,
    pub environment: String,
    /// `major`, `minor`, `patch`, `none` (up to date or nothing allowed),
    /// `range`, `unresolved`, `unknown` (offline or the lookup failed).
    pub update: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PinEnvLabels {
    pub gitops_repository: String,
    pub kind: String,
    pub environment: String,
}

/// A chart by name: as many series as the repository has charts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ChartLabels {
    pub gitops_repository: String,
    pub chart: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RepositoryLabels {
    /// [`classify::repository`]: a host or a configured name.
    repository: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RollbackLabels {
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChatLabels {
    verb: &'static str,
    outcome: &'static str,
}

/// From 100 ms (a chat command) doubling to about 3.6 h (a promotion that
/// waited out its soak time).
fn effect_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 2.0, 18))
}

/// The series one repository's last pass set, so the next pass of that
/// repository replaces them and leaves other repositories' alone.
#[derive(Default)]
pub(super) struct RepoSeries {
    pub pins: Vec<PinLabels>,
    pub behind: Vec<PinEnvLabels>,
    pub ages: Vec<ChartLabels>,
}

pub(super) struct Domain {
    pub series: std::sync::Mutex<std::collections::HashMap<String, RepoSeries>>,
    pub pins: Family<PinLabels, Gauge>,
    pub pins_drifting: Family<PinLabels, Gauge>,
    pub pins_behind: Family<PinEnvLabels, Gauge>,
    pub unadopted_age: Family<ChartLabels, Gauge>,
    lookups: Family<RepositoryLabels, Counter>,
    lookup_failures: Family<RepositoryLabels, Counter>,
    pr_actions: Family<ActionLabels, Counter>,
    promotion_checks: Family<OutcomeLabels, Counter>,
    rollback_decisions: Family<RollbackLabels, Counter>,
    chat_commands: Family<ChatLabels, Counter>,
    webhook_to_effect: Family<KindLabels, Histogram, fn() -> Histogram>,
}

impl Domain {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let d = Self {
            series: std::sync::Mutex::default(),
            pins: Family::default(),
            pins_drifting: Family::default(),
            pins_behind: Family::default(),
            unadopted_age: Family::default(),
            lookups: Family::default(),
            lookup_failures: Family::default(),
            pr_actions: Family::default(),
            promotion_checks: Family::default(),
            rollback_decisions: Family::default(),
            chat_commands: Family::default(),
            webhook_to_effect: Family::new_with_constructor(effect_histogram),
        };
        registry.register(
            "pins",
            "Chart pins by kind, environment and update type, as of the last upgrade pass",
            d.pins.clone(),
        );
        registry.register(
            "pins_drifting",
            "Pins ahead of or behind an earlier environment, as of the last upgrade pass",
            d.pins_drifting.clone(),
        );
        registry.register(
            "pins_behind",
            "Pins with a newer version the policy allows, as of the last upgrade pass",
            d.pins_behind.clone(),
        );
        registry.register_with_unit(
            "oldest_unadopted_release_age",
            "Per chart, how long ago the oldest release some pin has not taken yet (and the policy allows) was published; 0 when every pin has taken every allowed release",
            prometheus_client::registry::Unit::Seconds,
            d.unadopted_age.clone(),
        );
        registry.register(
            "chart_lookups",
            "Chart version lookups of upgrade passes, by repository host or name",
            d.lookups.clone(),
        );
        registry.register(
            "chart_lookup_failures",
            "Chart version lookups that failed, by repository host or name",
            d.lookup_failures.clone(),
        );
        registry.register(
            "pull_request_actions",
            "What upgrade and promotion passes did to pull requests",
            d.pr_actions.clone(),
        );
        registry.register(
            "promotion_checks",
            "Promotion checks by outcome",
            d.promotion_checks.clone(),
        );
        registry.register(
            "rollback_decisions",
            "Rollback decisions on alerts by outcome and reason",
            d.rollback_decisions.clone(),
        );
        registry.register(
            "chat_commands",
            "Chat command decisions (the audit log's) by verb and outcome",
            d.chat_commands.clone(),
        );
        registry.register(
            "webhook_to_effect_seconds",
            "Time from a job's creation (its webhook's arrival) to its handler's success, by job kind",
            d.webhook_to_effect.clone(),
        );
        // Bounded label sets start at zero, so rate() sees their first
        // event and a dashboard shows 0 rather than no data.
        for action in classify::PR_ACTIONS {
            let _ = d.pr_actions.get_or_create(&ActionLabels { action });
        }
        for outcome in classify::PROMOTION_OUTCOMES {
            let _ = d.promotion_checks.get_or_create(&OutcomeLabels { outcome });
        }
        for (outcome, reason) in classify::ROLLBACK_DECISIONS {
            let _ = d
                .rollback_decisions
                .get_or_create(&RollbackLabels { outcome, reason });
        }
        for verb in classify::chat_verbs() {
            for outcome in classify::CHAT_OUTCOMES {
                let _ = d.chat_commands.get_or_create(&ChatLabels { verb, outcome });
            }
        }
        d
    }
}

impl Metrics {
    /// One lookup per chart and repository of a pass, and its failure.
    pub fn lookups(&self, releases: &Releases) {
        for (key, result) in releases {
            let labels = RepositoryLabels {
                repository: classify::repository(key.repository.as_deref()),
            };
            self.domain.lookups.get_or_create(&labels).inc();
            if result.is_err() {
                self.domain.lookup_failures.get_or_create(&labels).inc();
            }
        }
    }

    /// What a pass did to pull requests.
    pub fn pr_actions(&self, report: &crate::upgrade::report::Report) {
        for action in classify::pr_actions(report) {
            self.domain
                .pr_actions
                .get_or_create(&ActionLabels { action })
                .inc();
        }
    }

    pub fn promotion_checked<E>(&self, checked: &Result<crate::promote::run::Checked, E>) {
        let outcome = classify::promotion(checked);
        self.domain
            .promotion_checks
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn rollback_decided(&self, outcome: &crate::rollback::run::Outcome) {
        let (outcome, reason) = classify::rollback(outcome);
        self.domain
            .rollback_decisions
            .get_or_create(&RollbackLabels { outcome, reason })
            .inc();
    }

    /// One chat audit line: the command as typed and the decision.
    pub fn chat_command(&self, text: &str, decision: &str) {
        let labels = ChatLabels {
            verb: classify::chat_verb(text),
            outcome: classify::chat_outcome(decision),
        };
        self.domain.chat_commands.get_or_create(&labels).inc();
    }

    /// A job of `kind` created at `created` took effect at `now`.
    pub fn took_effect(&self, kind: &str, created: DateTime<Utc>, now: DateTime<Utc>) {
        let seconds = (now - created).to_std().unwrap_or_default().as_secs_f64();
        self.domain
            .webhook_to_effect
            .get_or_create(&Self::kind(kind))
            .observe(seconds);
    }
}
