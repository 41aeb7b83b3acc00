//! The impact section of upgrade PRs, on the local host with chart
//! archives built here behind the fixture's index: a key the target
//! renamed, which the dev app overrides, is named with its `file:line`
//! and the PR is labelled; an upgrade that touches no override says so in
//! one line and gets no label.

use std::path::Path;
use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::impact::render::{HEADING, NO_IMPACT};
use chartpilot::upgrade::Upgrader;

use super::fixture::git;
use super::*;

fn archive(index_dir: &Path, name: &str, version: &str, values: &str) {
    let dir = index_dir.join("charts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}-{version}.tgz")),
        super::support::chart_tgz(
            name,
            &[
                (
                    "Chart.yaml",
                    &format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
                ),
                ("values.yaml", values),
            ],
        ),
    )
    .unwrap();
}

/// The newest PR record on `branch`.
fn pull(repo: &Path, branch: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap();
    text.lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|p| p["head"] == branch)
        .unwrap_or_else(|| panic!("no PR for {branch}: {text}"))
}

#[tokio::test]
async fn a_renamed_key_the_dev_app_overrides_is_named_at_its_line_and_labelled() {
    let scratch = scratch("6.6.0");
    // The dev app overrides `metrics.enabled` inline.
    let dev = scratch.repo.join("environments/dev/podinfo.yaml");
    let text = std::fs::read_to_string(&dev).unwrap().replace(
        "        - values/podinfo/dev.yaml\n",
        "        - values/podinfo/dev.yaml\n      values: |\n        metrics:\n          enabled: true\n        replicaCount: 2\n",
    );
    std::fs::write(&dev, &text).unwrap();
    git(
        &scratch.repo,
        &["commit", "-q", "-am", "podinfo metrics in dev"],
    );
    let line = text
        .lines()
        .position(|l| l.trim() == "enabled: true")
        .unwrap()
        + 1;
    // 6.6.0 moved `metrics` to `monitoring` (its port shows the move).
    let old = "metrics:\n  enabled: false\n  port: 9797\nreplicaCount: 1\n";
    let new = "monitoring:\n  enabled: false\n  port: 9797\nreplicaCount: 1\n";
    archive(&scratch.index_dir, "podinfo", "6.5.0", old);
    archive(&scratch.index_dir, "podinfo", "6.6.0", new);
    let same = "installCRDs: false\nreplicaCount: 1\n";
    archive(&scratch.index_dir, "cert-manager", "v1.13.2", same);
    archive(&scratch.index_dir, "cert-manager", "v1.14.0", same);

    let up = Upgrader::from_settings(&scratch.local_settings(), Arc::new(SystemClock)).unwrap();
    let report = up.run(false).await.unwrap();
    assert_eq!(
        summary(&report),
        pairs(&[("opened", CERT_MANAGER_BRANCH), ("opened", PODINFO_BRANCH)]),
        "{report:#?}"
    );

    let podinfo = pull(&scratch.repo, PODINFO_BRANCH);
    let body = podinfo["body"].as_str().unwrap();
    let section = &body[body.find(HEADING).expect(body)..];
    assert!(section.contains("`metrics.enabled`"), "{section}");
    assert!(section.contains("`monitoring.enabled`"), "{section}");
    assert!(
        section.contains(&format!("environments/dev/podinfo.yaml:{line}")),
        "{section}"
    );
    let labels: Vec<&str> = podinfo["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(labels.contains(&"needs-values-change"), "{labels:?}");

    let cert = pull(&scratch.repo, CERT_MANAGER_BRANCH);
    let body = cert["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("{HEADING}\n\n{NO_IMPACT}\n")),
        "one line says there is no impact: {body}"
    );
    assert!(
        !cert["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "needs-values-change"),
        "{cert}"
    );

    // The next pass finds the same bodies: nothing is rewritten.
    let again = up.run(false).await.unwrap();
    assert_eq!(
        summary(&again),
        pairs(&[
            ("unchanged", CERT_MANAGER_BRANCH),
            ("unchanged", PODINFO_BRANCH)
        ])
    );
}

#[tokio::test]
async fn an_archive_that_cannot_be_fetched_is_said_and_holds_nothing_back() {
    // No archives behind the index at all.
    let scratch = scratch("6.6.0");
    let up = Upgrader::from_settings(&scratch.local_settings(), Arc::new(SystemClock)).unwrap();
    let report = up.run(false).await.unwrap();
    assert_eq!(
        summary(&report),
        pairs(&[("opened", CERT_MANAGER_BRANCH), ("opened", PODINFO_BRANCH)]),
        "{report:#?}"
    );
    let body = pull(&scratch.repo, PODINFO_BRANCH)["body"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body.contains(&format!("{HEADING}\n\nNot analysed: ")),
        "{body}"
    );
    assert!(body.contains("chart podinfo 6.5.0"), "{body}");
}
