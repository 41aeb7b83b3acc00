use super::*;
use crate::charts::Release;
use crate::pins::{Pin, PinKind};
use crate::settings::UpdateType;
use crate::upgrade::plan::{PinChange, Target};

fn group(update: UpdateType, notes: Vec<(String, String)>) -> Group {
    let pin = Pin {
        file: "environments/dev/argocd.yaml".into(),
        line: 12,
        name: "argocd".into(),
        repository: Some("https://argoproj.github.io/argo-helm".into()),
        ..Pin::sample(PinKind::Argocd, Some("dev"), "argo-cd", "5.51.6")
    };
    Group {
        env: "dev".into(),
        chart: "argo-cd".into(),
        repository: pin.repository.clone(),
        target: Target {
            release: Release {
                version: "5.52.0".into(),
                app_version: Some("v2.9.5".into()),
                home: Some("https://github.com/argoproj/argo-helm".into()),
                sources: vec![
                    "javascript:alert(1)".into(),
                    "https://github.com/argoproj/argo-cd".into(),
                ],
                ..Release::default()
            },
            update,
            from_app_version: Some("v2.9.3".into()),
            notes,
            majors: vec![],
        },
        changes: vec![PinChange {
            pin,
            from: "5.51.6".into(),
            update,
        }],
        promoted: None,
        impact: None,
    }
}

fn envs() -> Vec<String> {
    vec!["dev".into(), "staging".into(), "prod".into()]
}

#[test]
fn body_has_the_table_app_version_notes_links_and_what_follows() {
    let g = group(
        UpdateType::Minor,
        vec![
            (
                "5.52.0".into(),
                "- kind: added\n  description: HA | redis\n- kind: fixed\n  description: probes for @team\n  links:\n    - name: PR 1\n      url: https://github.com/x/pull/1\n    - name: bad\n      url: javascript:alert(1)\n".into(),
            ),
            ("5.51.7".into(), "Fix typo".into()),
        ],
    );
    let expected = "\
Upgrades the Helm chart **argo-cd** from `5.51.6` to `5.52.0` in **dev**.

| Name | File | From → To | Update |
| --- | --- | --- | --- |
| argocd | `environments/dev/argocd.yaml:12` | `5.51.6` → `5.52.0` | minor |

Chart repository: `https://argoproj.github.io/argo-helm`
App version: `v2.9.3` → `v2.9.5`

### Release notes

**5.52.0**

- added: HA \\| redis
- fixed: probes for @\u{2060}team ([PR 1](https://github.com/x/pull/1))

**5.51.7**

- Fix typo

### Links
- Home: https://github.com/argoproj/argo-helm
- Source: https://github.com/argoproj/argo-cd

---
Opened by chartpilot. After the merge, staging and prod follow by promotion once dev is synced, healthy and quiet.
";
    assert_eq!(pr_body(&g, &envs()), expected);
}

#[test]
fn a_major_update_warns_and_a_table_cell_cannot_be_broken() {
    let mut g = group(UpdateType::Major, vec![]);
    g.changes[0].pin.name = "evil | name\nnext".into();
    let body = pr_body(&g, &envs());
    assert!(body.contains("> A major update"), "{body}");
    assert!(body.contains("| evil \\| name next |"), "{body}");
    assert!(!body.contains("### Release notes"));
}

#[test]
fn long_notes_are_cut_and_many_versions_summarised() {
    let notes: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("1.{i}.0"),
                format!("{}\n", "x".repeat(300)).repeat(20),
            )
        })
        .collect();
    let body = pr_body(&group(UpdateType::Minor, notes), &envs());
    assert!(body.contains("…(cut)"));
    assert!(body.len() < 30_000, "{}", body.len());
    let few: Vec<(String, String)> = (0..12)
        .map(|i| (format!("1.{i}.0"), "note".into()))
        .collect();
    let body = pr_body(&group(UpdateType::Minor, few), &envs());
    assert!(body.contains("…and 2 earlier releases."), "{body}");
}

#[test]
fn the_last_environment_and_pins_without_one_have_nothing_to_follow() {
    let mut g = group(UpdateType::Patch, vec![]);
    g.env = "prod".into();
    assert!(pr_body(&g, &envs()).ends_with("---\nOpened by chartpilot.\n"));
    g.env = ANY_ENV.into();
    let body = pr_body(&g, &envs());
    assert!(
        body.starts_with("Upgrades the Helm chart **argo-cd** from `5.51.6` to `5.52.0`.\n"),
        "{body}"
    );
}

#[test]
fn commit_message_lists_each_pin() {
    let g = group(UpdateType::Minor, vec![]);
    assert_eq!(
        commit_message(&g),
        "chore(deps): upgrade argo-cd to 5.52.0 in dev\n\nenvironments/dev/argocd.yaml:12 argocd: 5.51.6 -> 5.52.0 (minor)\n"
    );
}

fn body_with(f: impl FnOnce(&mut Group)) -> String {
    let mut g = group(UpdateType::Minor, vec![]);
    f(&mut g);
    pr_body(&g, &envs())
}

#[test]
fn index_text_cannot_mention_link_or_leave_its_code_span() {
    let body = body_with(|g| {
        g.target.release.app_version = Some("v2.9.5\n\n@acme/platform-admins please merge".into())
    });
    assert!(
        body.contains("App version: `v2.9.3` → `v2.9.5 @acme/platform-admins please merge`"),
        "{body}"
    );
    let body = body_with(|g| g.target.release.app_version = Some("v2 `` @acme/admins ``".into()));
    assert!(body.contains("→ ``` v2 `` @acme/admins `` ```"), "{body}");
}

#[test]
fn change_notes_cannot_close_our_issues() {
    let body = body_with(|g| {
        g.target.notes = vec![(
            "5.52.0".into(),
            "- kind: fixed\n  description: \"Fixes #12 and closes acme/gitops#3\"\n".into(),
        )]
    });
    assert!(
        body.contains("- fixed: Fixes #\u{2060}12 and closes acme/gitops#\u{2060}3"),
        "{body}"
    );
}

#[test]
fn a_huge_index_entry_keeps_the_body_under_githubs_limit() {
    let body = body_with(|g| {
        g.target.release.sources = (0..3000)
            .map(|i| format!("https://github.com/example/chart-source-{i}"))
            .collect();
        let pin = g.changes[0].clone();
        g.changes = (0..2000)
            .map(|i| {
                let mut c = pin.clone();
                c.pin.file = format!("environments/dev/app-{i}-with-a-long-name.yaml");
                c
            })
            .collect();
    });
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    assert!(body.ends_with("…(cut: the full list is in the commit)\n"));
    let few = body_with(|g| {
        g.target.release.sources = (0..30).map(|i| format!("https://x.example/{i}")).collect()
    });
    assert_eq!(few.matches("- Source: ").count(), 5);
}

#[test]
fn a_range_becoming_a_pin_says_so_and_quotes_the_range() {
    let mut g = group(UpdateType::Patch, vec![]);
    g.changes[0].pin.version = None;
    g.changes[0].pin.constraint = Some("5.x".into());
    g.changes[0].from = "5.x".into();
    g.target.from_app_version = None;
    let body = pr_body(&g, &envs());
    assert!(
        body.starts_with(
            "Pins the Helm chart **argo-cd** to `5.52.0` in **dev**: the range `5.x` becomes an exact version.\n"
        ),
        "{body}"
    );
    assert!(
        body.contains(
            "The range `5.x` at `environments/dev/argocd.yaml:12` becomes the pin `5.52.0`, the newest release in it that the policy allows (`policy.ranges = \"pin\"`)."
        ),
        "{body}"
    );
    assert!(
        body.contains("| argocd | `environments/dev/argocd.yaml:12` | `5.x` → `5.52.0` | pin |"),
        "{body}"
    );
    assert!(!body.contains("[!WARNING]"));
    assert_eq!(g.title(), "chore(deps): upgrade argo-cd to 5.52.0 in dev");
    assert_eq!(g.branch(), "chartpilot/upgrade/dev/argo-cd-5.52.0");
    let msg = commit_message(&g);
    assert!(msg.contains("argocd: 5.x -> 5.52.0 (pin)"), "{msg}");
}

/// The 826-byte `artifacthub.io/changes` that took `upgrade` to 3.85 GB:
/// aliases nested nine deep. Refused by the bounded loader, shown as
/// lines of text, and the body stays bounded.
#[test]
fn billion_laughs_in_release_notes_is_shown_as_text() {
    let mut laughs = "- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n".to_owned();
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        laughs.push_str(&format!("- &a{i} [{}]\n", [prev.as_str(); 9].join(", ")));
    }
    let body = body_with(|g| g.target.notes = vec![("5.52.0".into(), laughs.clone())]);
    assert!(body.contains("### Release notes"), "{body}");
    assert!(body.contains("- &amp;a9 \\[\\*a8"), "{body}");
    assert!(body.len() < 20_000, "{}", body.len());
}

#[test]
fn the_impact_section_comes_before_the_release_notes() {
    let body = body_with(|g| {
        g.target.notes = vec![("5.52.0".into(), "Fix probes".into())];
        g.impact = Some(crate::upgrade::impact::Section {
            markdown: "### Impact on this repository\n\n- `server.ingress.hosts` is gone\n\n"
                .into(),
            breaks: true,
        });
    });
    let impact = body.find("### Impact on this repository").expect(&body);
    let notes = body.find("Fix probes").expect(&body);
    assert!(impact < notes, "{body}");
    assert!(
        body.contains("- `server.ingress.hosts` is gone\n"),
        "{body}"
    );
    let without = body_with(|_| {});
    assert!(!without.contains("Impact on this repository"));
}
