use super::*;
use crate::git::PullState;
use crate::pins::{Pin, PinKind};
use crate::promote::freeze::Freezes;
use crate::settings::UpdateType;
use crate::upgrade::source::Latest;

fn pin(env: &str, chart: &str, v: &str) -> Pin {
    Pin::sample(PinKind::Argocd, Some(env), chart, v)
}

fn newer(v: &str) -> Latest {
    Latest {
        latest: Some(v.into()),
        update: Some(UpdateType::Minor),
        ..Latest::default()
    }
}

fn matrix() -> Matrix {
    let pins = [
        pin("dev", "web", "1.1.0"),
        pin("prod", "web", "1.0.0"),
        pin("dev", "api", "2.0.0"),
    ];
    let latest = [newer("1.2.0"), newer("1.2.0"), Latest::default()];
    let envs = ["dev", "prod"].map(str::to_owned);
    crate::matrix::build(&pins, Some(&latest), &envs, &Freezes::default())
}

fn pr(number: u64, head: &str) -> PullRequest {
    PullRequest {
        number,
        head: head.into(),
        base: "main".into(),
        title: format!("upgrade via {head}"),
        body: String::new(),
        state: PullState::Open,
        labels: Vec::new(),
        url: None,
        merge_commit: None,
        merged_at: None,
    }
}

fn with_pulls(mut m: Matrix, open: &[PullRequest]) -> Matrix {
    crate::matrix::attach_pulls(&mut m, open);
    m
}

#[test]
fn pending_upgrades_skip_cells_with_an_open_pr_and_frozen_environments() {
    let m = matrix();
    let all: Vec<String> = pending(&m).iter().map(Pending::command).collect();
    assert_eq!(
        all,
        ["upgrade web to 1.2.0 dev", "upgrade web to 1.2.0 prod"]
    );
    let open = [pr(4, "chartpilot/upgrade/dev/web-1.1.5")];
    let m = with_pulls(m, &open);
    let left: Vec<String> = pending(&m).iter().map(Pending::command).collect();
    assert_eq!(left, ["upgrade web to 1.2.0 prod"]);
    let mut frozen = m.clone();
    frozen.freezes.insert("prod".into(), "release week".into());
    let left: Vec<String> = pending(&frozen).iter().map(Pending::command).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_pr_of_a_chart_with_a_longer_name_hides_no_box() {
    let pins = [pin("dev", "web", "1.1.0"), pin("dev", "web-vault", "1.0.0")];
    let latest = [newer("1.2.0"), newer("1.1.0")];
    let m = crate::matrix::build(&pins, Some(&latest), &["dev".into()], &Freezes::default());
    let m = with_pulls(m, &[pr(9, "chartpilot/upgrade/dev/web-vault-1.1.0")]);
    let left: Vec<String> = pending(&m).iter().map(Pending::command).collect();
    assert_eq!(left, ["upgrade web to 1.2.0 dev"]);
}

#[test]
fn the_body_carries_the_marker_boxes_waiting_cells_and_the_matrix() {
    let open = [pr(4, "chartpilot/upgrade/dev/web-1.1.5")];
    let body = render(&with_pulls(matrix(), &open), &open);
    assert!(body.starts_with(MARKER), "{body}");
    assert!(
        body.contains(
            "- [ ] <!-- chartpilot:upgrade web prod 1.2.0 --> `web` → `1.2.0` in **prod**"
        ),
        "{body}"
    );
    assert!(!body.contains("chartpilot:upgrade web dev"), "{body}");
    assert!(
        body.contains("## Awaiting promotion\n\n- web in prod: 1.1.0 is in dev"),
        "{body}"
    );
    assert!(
        body.contains("- #4 upgrade via chartpilot/upgrade/dev/web-1.1.5"),
        "{body}"
    );
    assert!(
        body.contains("| web | application | 1.1.0 → 1.2.0 (minor); PR #4 (1.1.5) |"),
        "{body}"
    );
    // The same facts render the same body: no edit without a change.
    assert_eq!(body, render(&with_pulls(matrix(), &open), &open));
}

#[test]
fn a_huge_matrix_is_cut_under_githubs_limit() {
    let pins: Vec<Pin> = (0..3000)
        .map(|i| pin("dev", &format!("chart-with-a-long-name-{i}"), "1.0.0"))
        .collect();
    let latest: Vec<Latest> = pins.iter().map(|_| newer("1.1.0")).collect();
    let m = crate::matrix::build(&pins, Some(&latest), &["dev".into()], &Freezes::default());
    let body = render(&m, &[]);
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    assert!(body.ends_with("`chartpilot report` has all of it._\n"));
}

#[test]
fn only_boxes_a_person_newly_ticked_ask_for_an_upgrade() {
    let old = render(&matrix(), &[]);
    let tick = |body: &str, env: &str| {
        body.replace(
            &format!("- [ ] <!-- chartpilot:upgrade web {env} 1.2.0 -->"),
            &format!("- [x] <!-- chartpilot:upgrade web {env} 1.2.0 -->"),
        )
    };
    let new = tick(&old, "prod");
    let asked: Vec<String> = ticked(&old, &new).iter().map(Pending::command).collect();
    assert_eq!(asked, ["upgrade web to 1.2.0 prod"]);
    // Ticked before: nothing new. Unticked: nothing. Both: the new one.
    assert!(ticked(&new, &new).is_empty());
    assert!(ticked(&new, &old).is_empty());
    let both = tick(&new, "dev");
    let asked: Vec<String> = ticked(&new, &both).iter().map(Pending::command).collect();
    assert_eq!(asked, ["upgrade web to 1.2.0 dev"]);
}

#[test]
fn hand_written_boxes_that_do_not_parse_exactly_ask_nothing() {
    let cases = [
        "- [x] <!-- chartpilot:upgrade web prod -->",
        "- [x] <!-- chartpilot:upgrade web prod 1.2.0 extra -->",
        "- [x] <!-- chartpilot:upgrade web; prod 1.2.0 -->",
        "- [x] <!-- chartpilot:upgrade web prod 1.2.0`rm -->",
        "- [y] <!-- chartpilot:upgrade web prod 1.2.0 -->",
        "* [x] <!-- chartpilot:upgrade web prod 1.2.0 -->",
        "- [x] web prod 1.2.0",
    ];
    for line in cases {
        assert!(ticked("", line).is_empty(), "{line}");
    }
    // The visible text must say what the hidden marker runs.
    let disguised = "- [x] <!-- chartpilot:upgrade web prod 9.9.9 --> `web` → `1.2.0` in **dev**";
    assert!(ticked("", disguised).is_empty());
    let ok = ticked(
        "",
        "  - [X] <!-- chartpilot:upgrade web prod 1.2.0 --> `web` → `1.2.0` in **prod**",
    );
    assert_eq!(ok.len(), 1);
}
