//! Upgrades across majors on the local host: the PR body shows the first
//! release of each major crossed before the newest notes, and
//! `policy.major_steps = "one"` opens the next major only, one PR at a
//! time.

use std::path::Path;
use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::settings::MajorSteps;
use chartpilot::upgrade::Upgrader;

use super::fixture::git;
use super::*;

/// podinfo from the pinned 6.5.0 across majors 7, 8 and 9, each `x.0.0`
/// with `artifacthub.io/changes`; cert-manager and redis at their pins.
fn index(dir: &Path) {
    let entry = |chart: &str, version: &str, changes: &str| {
        let notes = if changes.is_empty() {
            String::new()
        } else {
            format!("    annotations:\n      artifacthub.io/changes: |\n{changes}")
        };
        format!(
            "  - name: {chart}\n    version: {version}\n    created: \"2024-01-01T00:00:00Z\"\n    urls: [charts/{chart}-{version}.tgz]\n{notes}"
        )
    };
    let change =
        |kind: &str, text: &str| format!("        - kind: {kind}\n          description: {text}\n");
    let podinfo = [
        entry("podinfo", "9.0.1", &change("fixed", "Probe timeout")),
        entry(
            "podinfo",
            "9.0.0",
            &change("security", "Drops all capabilities"),
        ),
        entry("podinfo", "8.1.0", ""),
        entry(
            "podinfo",
            "8.0.0",
            &(change("removed", "The legacy ingress values") + &change("added", "HTTPRoute")),
        ),
        entry("podinfo", "7.2.0", &change("added", "Extra labels")),
        entry(
            "podinfo",
            "7.0.0",
            &change("changed", "Service renamed to podinfo-http"),
        ),
        entry("podinfo", "6.6.0", &change("added", "Readiness gate")),
        entry("podinfo", "6.5.0", ""),
    ];
    let text = format!(
        "apiVersion: v1\nentries:\n  cert-manager:\n{}  podinfo:\n{}  redis:\n{}",
        entry("cert-manager", "v1.13.2", ""),
        podinfo.concat(),
        entry("redis", "18.1.0", ""),
    );
    std::fs::write(dir.join("index.yaml"), text).unwrap();
}

/// The newest body of the PR on `branch`.
fn body(repo: &Path, branch: &str) -> String {
    let text = std::fs::read_to_string(repo.join(".git/chartpilot/pulls.jsonl")).unwrap();
    text.lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|p| p["head"] == branch)
        .and_then(|p| p["body"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no PR for {branch}"))
}

fn position(body: &str, what: &str) -> usize {
    body.find(what)
        .unwrap_or_else(|| panic!("{what} missing from {body}"))
}

#[tokio::test]
async fn a_pr_across_three_majors_lists_each_first_release_before_the_newest_notes() {
    let scratch = scratch("6.6.0");
    index(&scratch.index_dir);
    let up = Upgrader::from_settings(&scratch.local_settings(), Arc::new(SystemClock)).unwrap();
    let report = up.run(false).await.unwrap();
    let branch = "chartpilot/upgrade/dev/podinfo-9.0.1";
    assert_eq!(
        summary(&report),
        pairs(&[("opened", branch)]),
        "{report:#?}"
    );
    let body = body(&scratch.repo, branch);
    let majors = position(&body, "### Majors crossed");
    let seven = position(
        &body,
        "**7.0.0**\n\n- **changed**: Service renamed to podinfo-http\n",
    );
    let eight = position(
        &body,
        "**8.0.0**\n\n- **removed**: The legacy ingress values\n- added: HTTPRoute\n",
    );
    let nine = position(
        &body,
        "**9.0.0**\n\n- **security**: Drops all capabilities\n",
    );
    let notes = position(&body, "### Release notes");
    assert!(
        majors < seven && seven < eight && eight < nine && nine < notes,
        "{body}"
    );
    assert!(
        body[notes..].contains("**9.0.1**\n\n- fixed: Probe timeout"),
        "{body}"
    );
    // 6.6.0 is no major: only among the release notes.
    assert!(!body[..notes].contains("6.6.0"), "{body}");
}

#[tokio::test]
async fn one_major_step_opens_the_next_major_only_one_pr_at_a_time() {
    let scratch = scratch("6.6.0");
    index(&scratch.index_dir);
    let repo = scratch.repo.clone();
    let mut settings = scratch.local_settings();
    settings.policy.major_steps = MajorSteps::One;
    let up = Upgrader::from_settings(&settings, Arc::new(SystemClock)).unwrap();

    let first = up.run(false).await.unwrap();
    let seven = "chartpilot/upgrade/dev/podinfo-7.2.0";
    assert_eq!(summary(&first), pairs(&[("opened", seven)]), "{first:#?}");
    let held: Vec<&str> = first.held_back.iter().map(|h| h.reason.as_str()).collect();
    assert_eq!(
        held,
        ["9.0.1 is more than one major ahead; policy.major_steps = \"one\" takes 7.2.0 first"],
        "{first:#?}"
    );
    let body = body(&repo, seven);
    assert!(body.contains("**7.0.0**\n\n- **changed**"), "{body}");
    assert!(!body.contains("8.0.0") && !body.contains("9.0.0"), "{body}");

    // Until it is merged, the next pass proposes the same step again.
    let again = up.run(false).await.unwrap();
    assert_eq!(summary(&again), pairs(&[("unchanged", seven)]));

    // Merged: the next major, and never past it.
    git(&repo, &["merge", "-q", "--ff-only", seven]);
    let next = up.run(false).await.unwrap();
    let eight = "chartpilot/upgrade/dev/podinfo-8.1.0";
    assert!(
        summary(&next).contains(&("opened".to_owned(), eight.to_owned())),
        "{next:#?}"
    );
    assert!(
        !summary(&next)
            .iter()
            .any(|(what, b)| what == "opened" && b != eight),
        "{next:#?}"
    );
}
