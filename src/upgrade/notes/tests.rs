use super::*;
use crate::charts::index::parse_index;
use crate::pins::{Pin, PinKind};
use crate::upgrade::body::pr_body;
use crate::upgrade::changes::notes_between;
use crate::upgrade::plan::{Group, PinChange};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/helm-index/argo-helm.index.yaml"
);

fn releases(versions: &[&str]) -> Vec<Release> {
    versions
        .iter()
        .map(|v| Release {
            version: (*v).to_owned(),
            changes: Some(format!("- kind: changed\n  description: in {v}\n")),
            ..Release::default()
        })
        .collect()
}

#[test]
fn the_first_release_of_each_major_crossed() {
    let list = releases(&[
        "4.0.0",
        "3.2.0",
        "3.0.1",
        "3.0.0-rc.1",
        "2.0.0-rc.2",
        "2.0.0-rc.1",
        "1.9.0",
        "1.0.0",
        "v0.9.0",
    ]);
    // (from, to, first release of each major crossed)
    let cases: &[(&str, &str, &[&str])] = &[
        // 3.0.0 was never published: its first stable release counts; a
        // major only published as pre-releases counts its first one.
        ("1.0.0", "3.2.0", &["2.0.0-rc.1", "3.0.1"]),
        ("1.0.0", "4.0.0", &["2.0.0-rc.1", "3.0.1", "4.0.0"]),
        // `v` spelling and 0.x: 0.9 → 1.0 is a major.
        ("v0.9.0", "1.9.0", &["1.0.0"]),
        // Within one major, or at the target already: nothing.
        ("3.0.1", "3.2.0", &[]),
        ("4.0.0", "4.0.0", &[]),
        // Starting from a pre-release of the major: the next majors only.
        ("3.0.0-rc.1", "4.0.0", &["4.0.0"]),
    ];
    for &(from, to, want) in cases {
        let got: Vec<String> = majors_crossed(&list, from, to)
            .into_iter()
            .map(|(v, changes)| {
                assert_eq!(
                    changes,
                    Some(format!("- kind: changed\n  description: in {v}\n"))
                );
                v
            })
            .collect();
        assert_eq!(got, want, "{from} → {to}");
    }
}

/// An index read by the real parser: `x.0.0` releases carrying
/// `artifacthub.io/changes` (one as a block string, one as a list, one
/// without notes), an upgrade across three majors.
const THREE_MAJORS: &str = r#"apiVersion: v1
entries:
  web:
  - version: 4.1.0
    annotations:
      artifacthub.io/changes: |
        - kind: added
          description: Newest feature
  - version: 4.0.0
    annotations:
      artifacthub.io/changes: |
        - kind: added
          description: Gateway API routes
        - kind: security
          description: Runs as non-root by default
        - kind: removed
          description: "values.legacyIngress, for @platform (Fixes #12)"
          links:
            - name: Upgrading
              url: https://example.org/web/upgrading-to-4
  - version: 3.4.0
    annotations:
      artifacthub.io/changes: "- kind: fixed\n  description: Probe ports\n"
  - version: 3.0.0
  - version: 2.3.0
  - version: 2.0.0
    annotations:
      artifacthub.io/changes:
      - kind: changed
        description: Values moved under `server:`
      - kind: fixed
        description: Service port name
  - version: 1.9.0
"#;

fn group_for(list: &[Release], from: &str, to: &str) -> Group {
    let release = list.iter().find(|r| r.version == to).cloned().unwrap();
    let pin = Pin {
        file: "environments/dev/web.yaml".into(),
        line: 9,
        name: "web".into(),
        repository: Some("https://charts.example.org".into()),
        ..Pin::sample(PinKind::Argocd, Some("dev"), "web", from)
    };
    Group {
        env: "dev".into(),
        chart: "web".into(),
        repository: pin.repository.clone(),
        target: Target {
            notes: notes_between(list, from, to),
            majors: majors_crossed(list, from, to),
            release,
            update: UpdateType::Major,
            from_app_version: None,
        },
        changes: vec![PinChange {
            pin,
            from: from.into(),
            update: UpdateType::Major,
        }],
        promoted: None,
        impact: None,
    }
}

#[test]
fn a_pr_across_three_majors_shows_each_first_release_before_the_newest_notes() {
    let index = parse_index(THREE_MAJORS.as_bytes(), &|_| true).unwrap();
    let group = group_for(&index["web"], "1.9.0", "4.1.0");
    let body = pr_body(&group, &["dev".into(), "prod".into()]);
    let expected = "
### Majors crossed

The first release of each major this upgrade crosses, oldest first. Its changes of kind changed, removed and security come first, in bold: read them before merging.

**2.0.0**

- **changed**: Values moved under \\`server:\\`
- fixed: Service port name

**3.0.0**

- No change notes published: read the chart's upgrade notes for 3.0.0.

**4.0.0**

- **security**: Runs as non-root by default
- **removed**: values.legacyIngress, for @\u{2060}platform (Fixes #\u{2060}12) ([Upgrading](https://example.org/web/upgrading-to-4))
- added: Gateway API routes

### Release notes

**4.1.0**

- added: Newest feature

**4.0.0**
";
    assert!(body.contains(expected), "{body}");
    // Each major once in its section, in order, all before the newest notes.
    let at = |s: &str| body.find(s).unwrap_or_else(|| panic!("{s} in {body}"));
    assert!(at("**2.0.0**") < at("**3.0.0**"));
    assert!(at("**3.0.0**") < at("**4.0.0**"));
    assert!(at("**4.0.0**") < at("### Release notes"));
    assert!(body.contains("**3.4.0**\n\n- fixed: Probe ports"), "{body}");
    assert!(body.contains("> [!WARNING]"), "{body}");
    // One major: a section for it alone; none without a major.
    let one = pr_body(&group_for(&index["web"], "3.4.0", "4.1.0"), &[]);
    assert_eq!(one.matches("\n**4.0.0**\n").count(), 2, "{one}");
    assert!(!one.contains("**2.0.0**"), "{one}");
    let minor = pr_body(&group_for(&index["web"], "4.0.0", "4.1.0"), &[]);
    assert!(!minor.contains("### Majors crossed"), "{minor}");
}

/// The issue's example: argo-cd 5.51.6 → 10.1.1 in the real argo-helm
/// index. Before, the body showed the ten newest releases and "…and 308
/// earlier releases", hiding 6.0.0 to 9.0.0.
#[test]
fn argo_cd_five_to_ten_shows_six_to_ten_first() {
    let bytes = std::fs::read(CORPUS).unwrap();
    let index = parse_index(&bytes, &|c| c == "argo-cd").unwrap();
    let group = group_for(&index["argo-cd"], "5.51.6", "10.1.1");
    let body = pr_body(&group, &[]);
    let order: Vec<usize> = ["6.0.0", "7.0.0", "8.0.0", "9.0.0", "10.0.0"]
        .iter()
        .map(|v| {
            body.find(&format!("\n**{v}**\n"))
                .unwrap_or_else(|| panic!("{v}: {body}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let notes = body.find("### Release notes").unwrap();
    assert!(order.iter().all(|&i| i < notes), "{body}");
    assert!(
        body.contains("**9.0.0**\n\n- **changed**: Remove default values from \\`config.params\\`"),
        "{body}"
    );
    // Breaking kinds first, whatever the order in the index.
    assert!(
        body.contains("**6.0.0**\n\n- **removed**: Support for deprecated features\n- **removed**: Wildcard catch all ingress rule\n- **changed**: Support for multiple ingress hosts"),
        "{body}"
    );
    assert!(
        body.find("- **changed**: Support for multiple").unwrap()
            < body.find("- added: Ingress extra rules").unwrap()
    );
    assert!(body.contains("earlier releases."), "{body}");
    assert!(body.chars().count() <= 65_536);
}

#[test]
fn chatty_majors_are_bounded_each_and_together() {
    let huge = format!("- kind: removed\n  description: {}\n", "x".repeat(900)).repeat(40);
    let mut list: Vec<Release> = (1..=40)
        .map(|m| Release {
            version: format!("{m}.0.0"),
            changes: Some(huge.clone()),
            ..Release::default()
        })
        .collect();
    list.push(Release {
        version: "0.1.0".into(),
        ..Release::default()
    });
    let group = group_for(&list, "0.1.0", "40.0.0");
    assert_eq!(group.target.majors.len(), 40);
    let body = pr_body(&group, &[]);
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    // One chatty major cannot crowd out the next one.
    let first = body.find("\n**1.0.0**\n").unwrap();
    let second = body.find("\n**2.0.0**\n").unwrap();
    assert!(second - first < MAX_MAJOR_CHARS + 100, "{}", second - first);
    assert!(body[first..second].contains("- …(cut)"), "{body}");
    // The section stops at its budget, and the newest notes still follow.
    let majors = body.find("### Majors crossed").unwrap();
    let notes = body.find("### Release notes").unwrap();
    assert!(
        notes - majors < MAX_MAJORS_CHARS + 1_000,
        "{}",
        notes - majors
    );
    let few = group_for(&list[..20], "1.0.0", "20.0.0");
    let mut few = few;
    for (_, changes) in &mut few.target.majors {
        *changes = Some("- kind: changed\n  description: short\n".into());
    }
    let body = pr_body(&few, &[]);
    assert!(
        body.contains(&format!("…and {} later majors", 19 - MAX_MAJORS)),
        "{body}"
    );
}
