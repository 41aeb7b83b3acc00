//! The Grafana dashboard (deploy/grafana/chartpilot.json): every PromQL
//! expression in it passes `promtool check rules` (written as recording
//! rules), and the chart ships the same file. That it queries only what
//! /metrics exports is checked against a real scrape in
//! tests/domain_metrics.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::dashboard::{dashboard, expressions};

/// Grafana variables the dashboard may use, and what stands in for them
/// when promtool reads an expression.
const VARIABLES: [(&str, &str); 1] = [("$namespace", "chartpilot")];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// promtool from Debian's prometheus package; the test fails without it.
fn promtool() -> PathBuf {
    let found = ["/usr/bin/promtool"]
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::var_os("PATH").into_iter().flat_map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("promtool"))
                .collect::<Vec<_>>()
        }))
        .find(|p| p.is_file());
    found.expect(
        "promtool is missing: run scripts/test-services.sh, which installs Debian's prometheus",
    )
}

/// `promtool check rules` on one recording rule per expression:
/// (success, its output).
fn check_rules(exprs: &[(String, String)], dir: &Path) -> (bool, String) {
    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .map(|(record, expr)| serde_json::json!({ "record": record, "expr": expr }))
        .collect();
    // JSON is YAML: promtool reads it as a rule file.
    let file = dir.join("dashboard-rules.yaml");
    let groups =
        serde_json::json!({ "groups": [{ "name": "chartpilot-dashboard", "rules": rules }] });
    std::fs::write(&file, serde_json::to_string_pretty(&groups).unwrap()).unwrap();
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn substituted(expr: &str) -> String {
    let mut e = expr.to_owned();
    for (var, value) in VARIABLES {
        e = e.replace(var, value);
    }
    assert!(
        !e.contains('$'),
        "an unknown Grafana variable in `{expr}`: add it to VARIABLES"
    );
    e
}

#[test]
fn promtool_accepts_every_dashboard_expression() {
    let exprs = expressions(&dashboard());
    assert!(exprs.len() >= 20, "{} expressions", exprs.len());
    let dir = tempfile::tempdir().unwrap();
    let rules: Vec<(String, String)> = exprs
        .iter()
        .map(|(panel, r, expr)| {
            (
                format!("chartpilot_dashboard:panel_{panel}_{r}"),
                substituted(expr),
            )
        })
        .collect();
    let records: BTreeSet<&String> = rules.iter().map(|(r, _)| r).collect();
    assert_eq!(records.len(), rules.len(), "panel ids or refIds repeat");
    let (ok, out) = check_rules(&rules, dir.path());
    assert!(ok, "promtool refused a dashboard expression:\n{out}");
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", rules.len())),
        "{out}"
    );
    // The check bites: one broken expression among good ones fails it.
    let mut broken = rules.clone();
    broken.push((
        "chartpilot_dashboard:broken".into(),
        "sum by (kind (rate(chartpilot_jobs_parked_total[5m]))".into(),
    ));
    let (ok, out) = check_rules(&broken, dir.path());
    assert!(!ok, "promtool accepted a broken expression:\n{out}");
}

#[test]
fn the_chart_ships_the_dashboard_with_the_sidecar_label() {
    let ours = std::fs::read(repo().join("deploy/grafana/chartpilot.json")).unwrap();
    let chart = repo().join("deploy/chart/chartpilot");
    let shipped = std::fs::read(chart.join("dashboards/chartpilot.json")).unwrap();
    assert!(
        ours == shipped,
        "deploy/chart/chartpilot/dashboards/chartpilot.json must be a copy of deploy/grafana/chartpilot.json"
    );
    let template = std::fs::read_to_string(chart.join("templates/grafana-dashboard.yaml")).unwrap();
    assert!(template.contains(".Files.Get \"dashboards/chartpilot.json\""));
    let values = std::fs::read_to_string(chart.join("values.yaml")).unwrap();
    assert!(
        values.contains("grafanaDashboard:\n  enabled: true\n")
            && values.contains("    grafana_dashboard: \"1\"\n"),
        "{values}"
    );
}
