//! The GitHub budget: calls per installation (counted against the hourly
//! limit or not: a 304 to a conditional request is free) and the limit
//! and what is left of it, as GitHub's last answer said.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstallationLabels {
    /// `app-<id>-<account>` for a GitHub App installation, `token-<8 hex
    /// of its hash>` for a token: whose budget it is, never the secret.
    installation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    installation: String,
    /// `true` unless GitHub answered 304 to a conditional request.
    counted: String,
}

pub(super) struct Github {
    calls: Family<CallLabels, Counter>,
    limit: Family<InstallationLabels, Gauge>,
    remaining: Family<InstallationLabels, Gauge>,
}

impl Github {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let g = Self {
            calls: Family::default(),
            limit: Family::default(),
            remaining: Family::default(),
        };
        registry.register(
            "github_calls",
            "GitHub API calls by installation; counted=\"false\" for a 304 GitHub does not count",
            g.calls.clone(),
        );
        registry.register(
            "github_rate_limit",
            "The hourly GitHub API budget of the installation, as its last answer said",
            g.limit.clone(),
        );
        registry.register(
            "github_rate_limit_remaining",
            "What is left of the installation's GitHub API budget, as its last answer said",
            g.remaining.clone(),
        );
        g
    }
}

/// A rate-limit header as a number.
fn number(headers: &reqwest::header::HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Metrics {
    /// One answer from GitHub for `installation`: counts the call and
    /// keeps the budget its headers state. The `core` budget only: search
    /// and GraphQL budgets are separate and would make the gauge jump.
    pub fn github_answer(
        &self,
        installation: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
    ) {
        let g = &self.github;
        g.calls
            .get_or_create(&CallLabels {
                installation: installation.to_owned(),
                counted: (status != 304).to_string(),
            })
            .inc();
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core");
        if resource != "core" {
            return;
        }
        let labels = InstallationLabels {
            installation: installation.to_owned(),
        };
        if let Some(limit) = number(headers, "x-ratelimit-limit") {
            g.limit.get_or_create(&labels).set(limit);
        }
        if let Some(left) = number(headers, "x-ratelimit-remaining") {
            g.remaining.get_or_create(&labels).set(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn calls_and_budget_by_installation() {
        let m = Metrics::new();
        let budget = headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "4990"),
        ]);
        m.github_answer("app-7-acme", 200, &budget);
        m.github_answer("app-7-acme", 304, &budget);
        m.github_answer(
            "token-1a2b3c4d",
            201,
            &headers(&[("x-ratelimit-remaining", "12")]),
        );
        // Another resource's budget leaves the core gauge alone.
        m.github_answer(
            "app-7-acme",
            200,
            &headers(&[
                ("x-ratelimit-remaining", "29"),
                ("x-ratelimit-resource", "search"),
            ]),
        );
        let text = m.render();
        for want in [
            "chartpilot_github_calls_total{installation=\"app-7-acme\",counted=\"true\"} 2",
            "chartpilot_github_calls_total{installation=\"app-7-acme\",counted=\"false\"} 1",
            "chartpilot_github_rate_limit{installation=\"app-7-acme\"} 5000",
            "chartpilot_github_rate_limit_remaining{installation=\"app-7-acme\"} 4990",
            "chartpilot_github_rate_limit_remaining{installation=\"token-1a2b3c4d\"} 12",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
    }
}
