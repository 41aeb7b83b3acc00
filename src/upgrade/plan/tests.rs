use super::*;
use crate::pins::PinKind;

fn pin(file: &str, line: usize, env: Option<&str>, chart: &str, version: &str) -> Pin {
    Pin {
        file: file.into(),
        line,
        name: format!("{chart}-app"),
        repository: Some("https://charts.example.org".into()),
        ..Pin::sample(PinKind::Argocd, env, chart, version)
    }
}

fn to(version: &str, update: UpdateType) -> Target {
    Target {
        release: Release {
            version: version.into(),
            ..Release::default()
        },
        update,
        from_app_version: None,
        notes: vec![],
        majors: vec![],
    }
}

fn envs() -> Vec<String> {
    vec!["dev".into(), "staging".into(), "prod".into()]
}

#[test]
fn only_the_first_environment_and_pins_without_one_get_prs() {
    let pins = vec![
        pin(
            "environments/dev/a.yaml",
            7,
            Some("dev"),
            "argo-cd",
            "5.1.0",
        ),
        pin(
            "environments/prod/a.yaml",
            7,
            Some("prod"),
            "argo-cd",
            "5.1.0",
        ),
        pin("platform/main.tf", 3, None, "cert-manager", "v1.13.2"),
    ];
    let plan = plan(&pins, &envs(), |p| {
        Some(match p.chart_name() {
            Some("argo-cd") => to("5.2.0", UpdateType::Minor),
            _ => to("v1.13.3", UpdateType::Patch),
        })
    });
    let branches: Vec<String> = plan.groups.iter().map(Group::branch).collect();
    assert_eq!(
        branches,
        [
            "chartpilot/upgrade/any/cert-manager-v1.13.3",
            "chartpilot/upgrade/dev/argo-cd-5.2.0"
        ]
    );
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].file, "environments/prod/a.yaml");
    assert_eq!(
        plan.skipped[0].reason,
        "prod is reached by promotion from dev"
    );
    assert_eq!(
        plan.groups[1].title(),
        "chore(deps): upgrade argo-cd to 5.2.0 in dev"
    );
    assert_eq!(
        plan.groups[0].title(),
        "chore(deps): upgrade cert-manager to v1.13.3"
    );
}

#[test]
fn an_environment_outside_the_promotion_order_stands_alone() {
    let pins = vec![pin("apps/sandbox/x.yaml", 1, Some("sandbox"), "x", "1.0.0")];
    let plan = plan(&pins, &envs(), |_| Some(to("1.0.1", UpdateType::Patch)));
    assert_eq!(plan.groups[0].env, "sandbox");
    assert!(plan.skipped.is_empty());
}

#[test]
fn pins_of_one_chart_in_one_environment_share_a_pr_at_the_newest_target() {
    let pins = vec![
        pin("environments/dev/b.yaml", 9, Some("dev"), "redis", "1.2.0"),
        pin("environments/dev/a.yaml", 4, Some("dev"), "redis", "1.2.3"),
        pin("environments/dev/c.yaml", 2, Some("dev"), "redis", "1.1.0"),
    ];
    let plan = plan(&pins, &envs(), |p| {
        Some(match p.version.as_deref() {
            Some("1.1.0") => to("1.1.9", UpdateType::Patch),
            Some("1.2.0") => to("2.0.0", UpdateType::Major),
            _ => to("2.0.0", UpdateType::Major),
        })
    });
    assert_eq!(plan.groups.len(), 1);
    let g = &plan.groups[0];
    assert_eq!(g.version(), "2.0.0");
    let files: Vec<&str> = g.changes.iter().map(|c| c.pin.file.as_str()).collect();
    assert_eq!(
        files,
        ["environments/dev/a.yaml", "environments/dev/b.yaml"]
    );
    assert_eq!(g.update(), UpdateType::Major);
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(
        plan.skipped[0].reason,
        "waits for the redis 2.0.0 PR in dev (this pin's policy allows 1.1.9)"
    );
}

#[test]
fn pins_without_a_target_or_a_version_are_left_alone() {
    let mut unresolved = pin("main.tf", 1, None, "x", "1.0.0");
    unresolved.version = None;
    let pins = vec![unresolved, pin("b.tf", 1, None, "y", "1.0.0")];
    let plan = plan(&pins, &envs(), |_| None);
    assert_eq!(plan, Plan::default());
}

#[test]
fn branch_versions_belong_to_their_own_chart_only() {
    let b = "chartpilot/upgrade/dev/argo-cd-5.2.0";
    assert_eq!(branch_version(b, "dev", "argo-cd"), Some("5.2.0"));
    assert_eq!(branch_version(b, "dev", "argo"), None);
    assert_eq!(branch_version(b, "prod", "argo-cd"), None);
    assert_eq!(
        branch_version("chartpilot/upgrade/any/cm-v1.2.3", "any", "cm"),
        Some("v1.2.3")
    );
    assert_eq!(branch_version("feature/x", "dev", "x"), None);
    let foo_2 = "chartpilot/upgrade/dev/foo-2-1.0.0";
    assert_eq!(branch_version(foo_2, "dev", "foo"), None);
    assert_eq!(branch_version(foo_2, "dev", "foo-2"), Some("1.0.0"));
    assert_eq!(
        branch_version("chartpilot/upgrade/dev/x-10-rc1", "dev", "x"),
        None
    );
    assert_eq!(
        branch_version("chartpilot/upgrade/dev/x-10", "dev", "x"),
        Some("10")
    );
}

#[test]
fn odd_chart_names_make_predictable_branches() {
    assert_eq!(
        chart_branch_prefix("dev", "my chart@2"),
        "chartpilot/upgrade/dev/my-chart-2-"
    );
}

fn open_pr(number: u64, head: &str) -> crate::git::PullRequest {
    crate::git::PullRequest {
        number,
        head: head.into(),
        base: "main".into(),
        title: String::new(),
        body: String::new(),
        state: crate::git::PullState::Open,
        labels: vec![],
        url: None,
        merge_commit: None,
        merged_at: None,
    }
}

#[test]
fn prs_whose_pins_already_moved_past_them_are_obsolete() {
    let pins = vec![
        pin(
            "environments/dev/a.yaml",
            1,
            Some("dev"),
            "podinfo",
            "6.6.0",
        ),
        pin(
            "environments/dev/b.yaml",
            1,
            Some("dev"),
            "podinfo",
            "6.7.0",
        ),
        pin("environments/dev/r.yaml", 1, Some("dev"), "redis", "18.0.0"),
        pin(
            "environments/prod/p.yaml",
            1,
            Some("prod"),
            "podinfo",
            "1.0.0",
        ),
    ];
    let open = vec![
        open_pr(1, "chartpilot/upgrade/dev/podinfo-6.6.0"),
        open_pr(2, "chartpilot/upgrade/dev/redis-18.1.0"),
        open_pr(3, "chartpilot/upgrade/dev/gone-1.0.0"),
        open_pr(4, "chartpilot/upgrade/prod/podinfo-2.0.0"),
    ];
    let found = obsolete(&open, &pins, &envs(), &[]);
    assert_eq!(
        found,
        [(
            1,
            "chartpilot/upgrade/dev/podinfo-6.6.0".to_owned(),
            "podinfo in dev is already at 6.6.0".to_owned()
        )],
        "redis is still behind; gone has no pins; prod is not a PR environment"
    );
    // A chart that still has a group is left to superseding.
    let plan = plan(&pins, &envs(), |p| {
        (p.chart_name() == Some("podinfo")).then(|| to("6.8.0", UpdateType::Minor))
    });
    assert!(obsolete(&open, &pins, &envs(), &plan.groups).is_empty());
}

#[test]
fn upgrade_branches_read_back_to_environment_chart_and_version() {
    let cases = [
        (
            "chartpilot/upgrade/dev/podinfo-6.6.0",
            Some(("dev", "podinfo", "6.6.0")),
        ),
        (
            "chartpilot/upgrade/staging/argo-cd-v5.2.0",
            Some(("staging", "argo-cd", "v5.2.0")),
        ),
        // The chart ends at the first dash a version follows.
        (
            "chartpilot/upgrade/dev/foo-2-1.0.0",
            Some(("dev", "foo-2", "1.0.0")),
        ),
        (
            "chartpilot/upgrade/any/cert-manager-v1.14.0",
            Some(("any", "cert-manager", "v1.14.0")),
        ),
        ("chartpilot/upgrade/dev/podinfo", None),
        ("chartpilot/upgrade/podinfo-6.6.0", None),
        ("chartpilot/revert/0123abc", None),
        ("feature/podinfo-6.6.0", None),
    ];
    for (branch, want) in cases {
        assert_eq!(parse_branch(branch), want, "{branch}");
    }
}

#[test]
fn a_promotion_moves_the_charts_pins_below_the_version_in_that_environment_only() {
    let pins = vec![
        pin(
            "environments/dev/p.yaml",
            4,
            Some("dev"),
            "podinfo",
            "6.6.0",
        ),
        pin(
            "environments/staging/p.yaml",
            4,
            Some("staging"),
            "podinfo",
            "6.5.0",
        ),
        pin(
            "environments/staging/q.yaml",
            7,
            Some("staging"),
            "podinfo",
            "6.6.0",
        ),
        pin(
            "environments/staging/r.yaml",
            2,
            Some("staging"),
            "redis",
            "1.0.0",
        ),
        pin(
            "environments/prod/p.yaml",
            4,
            Some("prod"),
            "podinfo",
            "6.5.0",
        ),
    ];
    let group = promotion(
        &pins,
        "staging",
        "podinfo",
        to("6.6.0", UpdateType::Minor),
        "from dev".into(),
    )
    .expect("one pin to move");
    assert_eq!(group.branch(), "chartpilot/upgrade/staging/podinfo-6.6.0");
    assert_eq!(
        group.title(),
        "chore(deps): upgrade podinfo to 6.6.0 in staging"
    );
    assert_eq!(group.promoted.as_deref(), Some("from dev"));
    let moved: Vec<(&str, &str)> = group
        .changes
        .iter()
        .map(|c| (c.pin.file.as_str(), c.from.as_str()))
        .collect();
    assert_eq!(moved, [("environments/staging/p.yaml", "6.5.0")]);
    assert_eq!(group.changes[0].update, UpdateType::Minor);
    // Already there (promoted by hand, or a newer one went first).
    let there = vec![pin(
        "environments/staging/p.yaml",
        4,
        Some("staging"),
        "podinfo",
        "6.7.0",
    )];
    assert!(promotion(
        &there,
        "staging",
        "podinfo",
        to("6.6.0", UpdateType::Minor),
        String::new()
    )
    .is_none());
}

#[test]
fn ranges_join_by_their_target_and_local_charts_never_do() {
    let mut range = pin("environments/dev/r.yaml", 3, Some("dev"), "loki", "-");
    range.version = None;
    range.constraint = Some("5.x".into());
    let mut local = pin("environments/dev/l.yaml", 3, Some("dev"), "mine", "0.1.0");
    local.local_chart = true;
    let pins = vec![range, local];
    let plan = plan(&pins, &envs(), |_| Some(to("5.4.0", UpdateType::Patch)));
    assert_eq!(plan.groups.len(), 1, "{plan:?}");
    let g = &plan.groups[0];
    assert_eq!(g.branch(), "chartpilot/upgrade/dev/loki-5.4.0");
    assert_eq!(g.changes[0].from, "5.x");
    assert_eq!(g.changes[0].range(), Some("5.x"));
    assert_eq!(g.changes[0].kind(), "pin");
}

#[test]
fn a_promotion_never_moves_a_pin_down_nor_a_local_chart() {
    let mut local = pin(
        "environments/staging/l.yaml",
        1,
        Some("staging"),
        "podinfo",
        "1.0.0",
    );
    local.local_chart = true;
    let pins = vec![
        pin(
            "environments/staging/p.yaml",
            4,
            Some("staging"),
            "podinfo",
            "6.6.0",
        ),
        local,
    ];
    for version in ["6.5.0", "6.6.0"] {
        let group = promotion(
            &pins,
            "staging",
            "podinfo",
            to(version, UpdateType::Minor),
            "asked in chat".into(),
        );
        assert_eq!(group, None, "{version}");
    }
}
