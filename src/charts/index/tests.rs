use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::{parse_index, IndexError};
use crate::charts::version::Version;
use crate::charts::ChartIndex;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/helm-index");

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(format!("{CORPUS}/{name}.index.yaml")).unwrap()
}

fn all(text: &str) -> Result<ChartIndex, IndexError> {
    parse_index(text.as_bytes(), &|_| true)
}

#[test]
fn argo_helm_corpus() {
    let idx = parse_index(&corpus("argo-helm"), &|_| true).unwrap();
    assert_eq!(idx.len(), 11);
    assert_eq!(idx.values().map(Vec::len).sum::<usize>(), 1628);
    let cd = &idx["argo-cd"];
    assert_eq!(cd.len(), 902);
    let newest = &cd[0];
    assert_eq!(newest.version, "10.1.1");
    assert_eq!(newest.app_version.as_deref(), Some("v3.4.4"));
    let created = Utc.with_ymd_and_hms(2026, 7, 2, 19, 19, 4).unwrap()
        + chrono::Duration::nanoseconds(651_095_688);
    assert_eq!(newest.created, Some(created));
    assert_eq!(
        newest.urls,
        ["https://github.com/argoproj/argo-helm/releases/download/argo-cd-10.1.1/argo-cd-10.1.1.tgz"]
    );
    let changes = newest.changes.as_deref().unwrap();
    assert!(
        changes.starts_with("- kind: fixed\n  description: Apply applicationSet NetworkPolicy"),
        "{changes}"
    );
    let deprecated: Vec<_> = idx
        .iter()
        .flat_map(|(n, rs)| {
            rs.iter()
                .filter(|r| r.deprecated)
                .map(move |r| format!("{n} {}", r.version))
        })
        .collect();
    assert_eq!(deprecated.len(), 5, "{deprecated:?}");
    assert!(deprecated.contains(&"argo-lite 0.1.0".to_owned()));
    let argo_1 = idx["argo"].iter().find(|r| r.version == "1.0.0").unwrap();
    assert_eq!(argo_1.urls, ["argo-1.0.0.tgz"]);
    assert!(cd.iter().all(|r| r.created.is_some() && !r.urls.is_empty()));
}

#[test]
fn jupyterhub_corpus() {
    let idx = parse_index(&corpus("jupyterhub"), &|_| true).unwrap();
    let mut names: Vec<_> = idx.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["binderhub", "jupyterhub", "pebble"]);
    let hub = &idx["jupyterhub"];
    assert_eq!(hub.len(), 1058);
    let versions: Vec<Version> = idx
        .values()
        .flatten()
        .map(|r| Version::parse(&r.version))
        .collect();
    assert_eq!(versions.len(), 1775);
    assert_eq!(versions.iter().filter(|v| v.is_prerelease()).count(), 1720);
    assert_eq!(
        versions
            .iter()
            .filter(|v| v.as_str().starts_with('v'))
            .count(),
        177
    );
    let newest_stable = hub
        .iter()
        .map(|r| Version::parse(&r.version))
        .filter(|v| !v.is_prerelease())
        .max()
        .unwrap();
    assert_eq!(newest_stable.as_str(), "3.3.8");
    let r338 = hub.iter().find(|r| r.version == "3.3.8").unwrap();
    assert_eq!(r338.app_version.as_deref(), Some("4.1.6"));
    assert_eq!(
        r338.created.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-07-31T10:42:59.970789308+00:00")
    );
    assert!(hub.iter().any(|r| r.version == "v0.6"));
}

#[test]
fn kedacore_corpus_offsets_and_filter() {
    let bytes = corpus("kedacore");
    let idx = parse_index(&bytes, &|name| name == "keda").unwrap();
    assert_eq!(idx.keys().collect::<Vec<_>>(), ["keda"]);
    let keda = &idx["keda"];
    assert_eq!(keda.len(), 78);
    assert_eq!(keda[0].version, "2.20.2");
    // Written `2026-06-15T15:50:31.310571+02:00`.
    assert_eq!(
        keda[1].created.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-06-15T13:50:31.310571+00:00")
    );
    assert!(keda.iter().any(|r| r.version == "2.0.0-beta1.2"));
    let none = parse_index(&bytes, &|_| false).unwrap();
    assert!(none.is_empty());
}

#[test]
fn keeps_version_spelling_of_yaml_numbers() {
    let idx = all(
        "apiVersion: v1\nentries:\n  c:\n  - version: 1.10\n    appVersion: 2.0\n  - version: 2\n  - {version: '1.20', deprecated: true}\n  - version: \"v0.6\"\n",
    )
    .unwrap();
    let vs: Vec<_> = idx["c"].iter().map(|r| r.version.as_str()).collect();
    assert_eq!(vs, ["1.10", "2", "1.20", "v0.6"]);
    assert_eq!(idx["c"][0].app_version.as_deref(), Some("2.0"));
    assert!(idx["c"][2].deprecated);
}

#[test]
fn reads_every_field_in_block_and_flow_styles() {
    let text = r#"
apiVersion: v1
generated: "2024-01-01T00:00:00Z"
entries:
  demo:
  - name: demo
    version: 1.2.3
    appVersion: "v9"
    created: 2024-05-06T07:08:09.123456789-02:30
    deprecated: True
    home: https://demo.example.org
    sources: [https://github.com/a/b, "https://gitlab.example/c"]
    urls:
    - charts/demo-1.2.3.tgz
    description: >
      A long description
      over two lines: with colons, "quotes" and # not a comment
    maintainers: [{name: x, email: y}]
    dependencies:
    - {name: redis, version: 1.x, repository: "@bitnami"}
    annotations:
      artifacthub.io/prerelease: "true"
      artifacthub.io/changes: |
        - kind: added
          description: "Thing"
      artifacthub.io/links: |
        - name: x
  other: []
"#;
    let idx = all(text).unwrap();
    let r = &idx["demo"][0];
    assert_eq!(r.version, "1.2.3");
    assert_eq!(r.app_version.as_deref(), Some("v9"));
    assert_eq!(
        r.created.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-05-06T09:38:09.123456789+00:00")
    );
    assert!(r.deprecated && r.prerelease);
    assert_eq!(r.home.as_deref(), Some("https://demo.example.org"));
    assert_eq!(
        r.sources,
        ["https://github.com/a/b", "https://gitlab.example/c"]
    );
    assert_eq!(r.urls, ["charts/demo-1.2.3.tgz"]);
    assert_eq!(
        r.changes.as_deref(),
        Some("- kind: added\n  description: \"Thing\"")
    );
    assert!(idx["other"].is_empty());
}

#[test]
fn changes_written_as_a_list_become_yaml_text() {
    let text = "entries:\n  c:\n  - version: 1.0.0\n    annotations:\n      artifacthub.io/changes:\n      - kind: fixed\n        description: crash\n          on start\n        links:\n        - name: PR\n          url: https://x/1\n      - plain text item\n";
    let idx = all(text).unwrap();
    assert_eq!(
        idx["c"][0].changes.as_deref(),
        Some("- {\"kind\": \"fixed\", \"description\": \"crash on start\", \"links\": [{\"name\": \"PR\", \"url\": \"https://x/1\"}]}\n- \"plain text item\"")
    );
}

#[test]
fn anchors_and_aliases_do_not_crash() {
    let text = "entries:\n  c:\n  - &r1 {version: 1.0.0, urls: &u [a.tgz]}\n  - version: 1.0.1\n    urls: *u\n    home: *r1\n  - *r1\n";
    let idx = all(text).unwrap();
    let vs: Vec<_> = idx["c"].iter().map(|r| r.version.as_str()).collect();
    assert_eq!(vs, ["1.0.0", "1.0.1"]);
    assert_eq!(idx["c"][1].home, None);
}

#[test]
fn shapes_and_nulls() {
    assert!(all("entries:\n").unwrap().is_empty());
    assert!(all("entries: {}\n").unwrap().is_empty());
    assert!(all("entries:\n  c: ~\n").unwrap()["c"].is_empty());
    // A release without a version, and items that are not releases, are dropped.
    let idx =
        all("entries:\n  c:\n  - appVersion: 1\n  - 3\n  - [x]\n  - version: 2.0.0\n").unwrap();
    assert_eq!(idx["c"].len(), 1);
    // A chart listed twice keeps both lists.
    let idx = all("entries:\n  c:\n  - version: 1.0.0\n  c:\n  - version: 2.0.0\n").unwrap();
    assert_eq!(idx["c"].len(), 2);
    for bad in [
        "",
        "apiVersion: v1\n",
        "- a\n- b\n",
        "just text",
        "entries: [1, 2]\n",
    ] {
        assert!(all(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn errors_name_the_line() {
    let cases = [
        ("apiVersion: v1\nentries:\n  c:\n  - version: \"1.0\n", 4),
        (
            "apiVersion: v1\nentries:\n  c:\n    - version: 1\n   bad: [\n",
            5,
        ),
    ];
    for (text, line) in cases {
        let e = all(text).unwrap_err();
        match &e {
            IndexError::Syntax { line: got, .. } => assert_eq!(*got, line, "{e}"),
            IndexError::Shape(_) => panic!("{e}"),
        }
        assert!(e.to_string().contains("line "), "{e}");
    }
    let e = parse_index(b"entries:\n  c:\n  - version: \xff\n", &|_| true).unwrap_err();
    assert!(e.to_string().contains("line 3"), "{e}");
}

#[test]
fn garbage_never_panics() {
    let inputs: &[&[u8]] = &[
        b"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        b"entries: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"entries:\n  c:\n  - version: 1\n    annotations:\n      artifacthub.io/changes: [[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]\n",
        b"entries: &a\n  c: *a\n",
        b"%YAML 1.2\n---\nentries: {}\n...\n---\nx\n",
        b"\xef\xbb\xbfentries: {}\n",
        b"entries:\n\t- tab\n",
        b"entries: !!map\n  c: !!seq\n  - !!map {version: !!str 1.0}\n",
        b"? [complex, key]\n: v\nentries: {}\n",
        b"entries:\n  ? [c]\n  : - version: 1\n",
        b"\0\0\0",
    ];
    for input in inputs {
        let _ = parse_index(input, &|_| true);
    }
    // Deep nesting in skipped and in rendered places stays off the stack.
    let deep = "[".repeat(100_000);
    let _ = all(&format!("entries:\n  c:\n  - version: 1\n    x: {deep}\n"));
    let _ = all(&format!(
        "entries:\n  c:\n  - version: 1\n    annotations:\n      artifacthub.io/changes: {deep}\n"
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_index(&bytes, &|_| true);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "(entries:|  c:|  - |version: |[\\[\\]{},:&*!|>'\"#~ \\n-]|[a-z0-9.]{1,4}){0,60}") {
        let _ = all(&text);
    }
}

#[test]
fn created_times_in_the_spellings_indexes_use() {
    let cases = [
        ("2024-01-02T03:04:05Z", Some("2024-01-02T03:04:05+00:00")),
        (
            "2024-01-02T03:04:05.5+01:00",
            Some("2024-01-02T02:04:05.500+00:00"),
        ),
        (
            "2024-01-02 03:04:05.123456789Z",
            Some("2024-01-02T03:04:05.123456789+00:00"),
        ),
        ("2024-01-02t03:04:05z", Some("2024-01-02T03:04:05+00:00")),
        (
            "\"2024-01-02T03:04:05.000000001-00:30\"",
            Some("2024-01-02T03:34:05.000000001+00:00"),
        ),
        ("yesterday", None),
        ("2024-13-02T03:04:05Z", None),
        ("~", None),
    ];
    for (created, want) in cases {
        let idx = all(&format!(
            "entries:\n  c:\n  - version: 1.0.0\n    created: {created}\n"
        ))
        .unwrap();
        let got = idx["c"][0].created.map(|t| t.to_rfc3339());
        assert_eq!(got.as_deref(), want, "{created}");
    }
}
