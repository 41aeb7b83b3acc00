//! The pin gauges: the version matrix of the last upgrade pass, and how
//! long each chart's oldest release not taken yet has been out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::domain::{ChartLabels, PinEnvLabels, PinLabels, RepoSeries};
use super::Metrics;
use crate::charts::lookup::ChartKey;
use crate::charts::policy::{select, EffectivePolicy};
use crate::charts::version::Version;
use crate::pins::Pin;
use crate::settings::PolicySettings;
use crate::upgrade::run::Releases;

/// Where a chart stands on the releases its pins have not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adoption {
    /// Every exact pin has the newest release the policy allows.
    Current,
    /// The oldest release some pin has not taken came out then.
    Since(DateTime<Utc>),
    /// Some pin has a release to take, and none of those says when it was
    /// published (OCI tags carry no time).
    Unknown,
}

impl Adoption {
    fn merge(self, other: Adoption) -> Adoption {
        match (self, other) {
            (Adoption::Since(a), Adoption::Since(b)) => Adoption::Since(a.min(b)),
            (s @ Adoption::Since(_), _) | (_, s @ Adoption::Since(_)) => s,
            (Adoption::Unknown, _) | (_, Adoption::Unknown) => Adoption::Unknown,
            _ => Adoption::Current,
        }
    }
}

/// Per chart name, its [`Adoption`] over its exact pins whose chart was
/// looked up. A release counts when the policy would move the pin to it
/// but for `min_release_age`: the age is how long it has been out, young
/// or not.
pub(crate) fn adoption(
    pins: &[Pin],
    releases: &Releases,
    policy: &PolicySettings,
    now: DateTime<Utc>,
) -> BTreeMap<String, Adoption> {
    let exact: BTreeSet<(ChartKey, &str, &str)> = pins
        .iter()
        .filter(|p| !p.local_chart)
        .filter_map(|p| Some((ChartKey::of(p), p.chart_name()?, p.version.as_deref()?)))
        .collect();
    let mut out: BTreeMap<String, Adoption> = BTreeMap::new();
    for (key, chart, version) in exact {
        let Some(Ok(list)) = releases.get(&key) else {
            continue;
        };
        let Ok(effective) = EffectivePolicy::for_chart(policy, chart) else {
            continue;
        };
        let ageless = EffectivePolicy {
            min_release_age: std::time::Duration::ZERO,
            ..effective
        };
        let current = Version::parse(version);
        let mut here = Adoption::Current;
        for r in list {
            let taken = select(&current, std::slice::from_ref(r), &ageless, now)
                .newer
                .is_none();
            if !taken {
                here = here.merge(r.created.map_or(Adoption::Unknown, Adoption::Since));
            }
        }
        let entry = out.entry(chart.to_owned()).or_insert(Adoption::Current);
        *entry = entry.merge(here);
    }
    out
}

impl Metrics {
    /// What `repository`'s previous pass set, taken out of the registry
    /// and the memo: a chart that left an environment must not linger.
    fn forget(&self, repository: &str, which: impl FnOnce(&mut RepoSeries) -> RepoSeries) {
        let d = &self.domain;
        let mut series = d
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = which(series.entry(repository.to_owned()).or_default());
        for l in &old.pins {
            d.pins.remove(l);
            d.pins_drifting.remove(l);
        }
        for l in &old.behind {
            d.pins_behind.remove(l);
        }
        for l in &old.ages {
            d.unadopted_age.remove(l);
        }
    }

    fn remember(&self, repository: &str, add: impl FnOnce(&mut RepoSeries)) {
        let mut series = self
            .domain
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        add(series.entry(repository.to_owned()).or_default());
    }

    /// Every series of `repository`: it is no longer served.
    pub fn forget_repository(&self, repository: &str) {
        self.forget(repository, std::mem::take);
        self.domain
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(repository);
    }

    /// The pin gauges of `repository` from `m`, replacing that repository's
    /// previous pass's series and no other repository's.
    pub fn set_pins(&self, repository: &str, m: &crate::matrix::Matrix) {
        self.forget(repository, |s| RepoSeries {
            pins: std::mem::take(&mut s.pins),
            behind: std::mem::take(&mut s.behind),
            ages: Vec::new(),
        });
        let d = &self.domain;
        let mut pins = Vec::new();
        let mut behind_set = Vec::new();
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
                        gitops_repository: repository.to_owned(),
                        kind: row.tier.pin_kind().to_owned(),
                        environment: env.clone(),
                        update: update.to_owned(),
                    };
                    d.pins.get_or_create(&labels).inc();
                    if cell.drift.is_some() {
                        d.pins_drifting.get_or_create(&labels).inc();
                    }
                    let env_labels = PinEnvLabels {
                        gitops_repository: repository.to_owned(),
                        kind: labels.kind.clone(),
                        environment: labels.environment.clone(),
                    };
                    let behind = d.pins_behind.get_or_create(&env_labels);
                    // Present at 0 for every environment with pins.
                    if matches!(update, "major" | "minor" | "patch") {
                        behind.inc();
                    }
                    pins.push(labels);
                    behind_set.push(env_labels);
                }
            }
        }
        self.remember(repository, |s| {
            s.pins = pins;
            s.behind = behind_set;
        });
    }

    /// The age gauge of each chart of a pass (see [`adoption`]), replacing
    /// the previous pass's; a chart whose age is unknown has none.
    pub fn set_adoption(
        &self,
        repository: &str,
        pins: &[Pin],
        releases: &Releases,
        policy: &PolicySettings,
        now: DateTime<Utc>,
    ) {
        self.forget(repository, |s| RepoSeries {
            ages: std::mem::take(&mut s.ages),
            ..RepoSeries::default()
        });
        let ages = &self.domain.unadopted_age;
        let mut set = Vec::new();
        for (chart, a) in adoption(pins, releases, policy, now) {
            let seconds = match a {
                Adoption::Current => 0,
                Adoption::Since(t) => (now - t).num_seconds().max(0),
                Adoption::Unknown => continue,
            };
            let labels = ChartLabels {
                gitops_repository: repository.to_owned(),
                chart,
            };
            ages.get_or_create(&labels).set(seconds);
            set.push(labels);
        }
        self.remember(repository, |s| s.ages = set);
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
        Pin::sample(PinKind::Argocd, Some(env), "a", version)
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
        m.set_pins(
            "acme/gitops",
            &crate::matrix::build(&pins, Some(&latest), &envs, &Freezes::default()),
        );
        let text = m.render();
        assert!(
            text.contains(
                "chartpilot_pins{gitops_repository=\"acme/gitops\",kind=\"argocd\",environment=\"prod\",update=\"minor\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("chartpilot_pins{gitops_repository=\"acme/gitops\",kind=\"argocd\",environment=\"dev\",update=\"none\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "chartpilot_pins_drifting{gitops_repository=\"acme/gitops\",kind=\"argocd\",environment=\"prod\",update=\"minor\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("chartpilot_pins_behind{gitops_repository=\"acme/gitops\",kind=\"argocd\",environment=\"prod\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("chartpilot_pins_behind{gitops_repository=\"acme/gitops\",kind=\"argocd\",environment=\"dev\"} 0\n"),
            "{text}"
        );
        m.set_pins(
            "acme/gitops",
            &crate::matrix::build(&pins[..1], None, &envs, &Freezes::default()),
        );
        let text = m.render();
        assert!(!text.contains("environment=\"prod\""), "{text}");
        assert!(
            text.contains(
                "chartpilot_pins{gitops_repository=\"acme/gitops\",kind=\"argocd\",environment=\"dev\",update=\"unknown\"} 1"
            ),
            "{text}"
        );
    }
    /// Each repository's pass replaces its own series only.
    #[test]
    fn pin_gauges_of_repositories_stand_side_by_side() {
        let envs = ["dev", "prod"].map(str::to_owned);
        let pins = [pin("dev", "1.1.0"), pin("prod", "1.0.0")];
        let matrix = |pins: &[Pin]| crate::matrix::build(pins, None, &envs, &Freezes::default());
        let m = Metrics::new();
        m.set_pins("acme/platform", &matrix(&pins));
        m.set_pins("acme/apps", &matrix(&pins[..1]));
        let series = |repo: &str, env: &str| {
            format!("chartpilot_pins{{gitops_repository=\"{repo}\",kind=\"argocd\",environment=\"{env}\",update=\"unknown\"}} 1")
        };
        let text = m.render();
        for (repo, env, there) in [
            ("acme/platform", "dev", true),
            ("acme/platform", "prod", true),
            ("acme/apps", "dev", true),
            ("acme/apps", "prod", false),
        ] {
            assert_eq!(
                text.contains(&series(repo, env)),
                there,
                "{repo} {env}\n{text}"
            );
        }
        // acme/platform's next pass drops its prod pin; acme/apps keeps its dev.
        m.set_pins("acme/platform", &matrix(&pins[..1]));
        let text = m.render();
        assert!(!text.contains(&series("acme/platform", "prod")), "{text}");
        assert!(text.contains(&series("acme/apps", "dev")), "{text}");
        assert!(text.contains(&series("acme/platform", "dev")), "{text}");
    }

    fn release(version: &str, days_ago: Option<i64>, now: DateTime<Utc>) -> crate::charts::Release {
        crate::charts::Release {
            version: version.into(),
            app_version: None,
            created: days_ago.map(|d| now - chrono::Duration::days(d)),
            deprecated: false,
            prerelease: false,
            changes: None,
            home: None,
            sources: Vec::new(),
            urls: Vec::new(),
        }
    }

    fn chart_pin(chart: &str, repo: &str, env: &str, version: &str) -> Pin {
        Pin {
            chart: Some(chart.into()),
            repository: Some(repo.into()),
            ..pin(env, version)
        }
    }

    /// Per chart: the oldest release a pin has not taken and the policy
    /// allows (its minimum age aside), 0 when there is none, no series when
    /// it is unknown or the lookup failed.
    #[test]
    fn adoption_ages_per_chart() {
        let now = Utc::now();
        let mut policy: PolicySettings = crate::settings::Settings::load(None, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .policy;
        policy.update_types = vec![UpdateType::Patch, UpdateType::Minor];
        // A week's minimum age does not shorten the age shown.
        policy.min_release_age = std::time::Duration::from_secs(7 * 86_400);
        let pins = [
            chart_pin("a", "https://a.example", "dev", "1.0.0"),
            chart_pin("a", "https://a.example", "prod", "1.2.0"),
            chart_pin("b", "https://b.example", "dev", "2.0.0"),
            chart_pin("c", "oci://c.example/charts", "dev", "0.1.0"),
            chart_pin("d", "https://d.example", "dev", "1.0.0"),
            Pin {
                version: None,
                constraint: Some("^1.0.0".into()),
                ..chart_pin("e", "https://e.example", "dev", "")
            },
        ];
        let key = |i: usize| ChartKey::of(&pins[i]);
        let mut releases = Releases::new();
        releases.insert(
            key(0),
            Ok(vec![
                release("3.0.0", Some(1), now),
                release("1.2.0", Some(3), now),
                release("1.1.0", Some(40), now),
                release("1.0.0", Some(90), now),
            ]),
        );
        releases.insert(
            key(2),
            Ok(vec![
                release("2.0.0", Some(5), now),
                release("1.9.0", Some(9), now),
            ]),
        );
        releases.insert(key(3), Ok(vec![release("0.2.0", None, now)]));
        releases.insert(key(4), Err("unreachable".into()));
        releases.insert(key(5), Ok(vec![release("1.5.0", Some(2), now)]));
        let got = adoption(&pins, &releases, &policy, now);
        assert_eq!(
            got.get("a"),
            Some(&Adoption::Since(now - chrono::Duration::days(40))),
            "dev has not taken 1.1.0 (40 days) nor 1.2.0; 3.0.0 is a major the policy forbids"
        );
        assert_eq!(got.get("b"), Some(&Adoption::Current));
        assert_eq!(got.get("c"), Some(&Adoption::Unknown));
        assert_eq!(got.get("d"), None, "its lookup failed");
        assert_eq!(got.get("e"), None, "a range follows releases on its own");

        let m = Metrics::new();
        m.set_adoption("acme/gitops", &pins, &releases, &policy, now);
        let text = m.render();
        assert!(
            text.contains(&format!(
                "chartpilot_oldest_unadopted_release_age_seconds{{gitops_repository=\"acme/gitops\",chart=\"a\"}} {}\n",
                40 * 86_400
            )),
            "{text}"
        );
        assert!(
            text.contains("chartpilot_oldest_unadopted_release_age_seconds{gitops_repository=\"acme/gitops\",chart=\"b\"} 0\n"),
            "{text}"
        );
        assert!(!text.contains("chart=\"c\""), "{text}");
        m.set_adoption("acme/gitops", &pins[2..3], &releases, &policy, now);
        assert!(!m.render().contains("chart=\"a\""));
    }
}
