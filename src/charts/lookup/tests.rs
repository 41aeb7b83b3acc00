use super::*;

fn classify(repository: Option<&str>, chart: Option<&str>) -> Result<String, String> {
    source(repository, chart).map(|s| match s {
        Source::Index { repository, chart } => format!("index {repository} {chart}"),
        Source::Oci(c) => format!("oci {}", c.reference()),
    })
}

#[test]
fn sources_of_every_pin_shape() {
    let ok = |r: Option<&str>, c: &str, want: &str| {
        assert_eq!(classify(r, Some(c)).as_deref(), Ok(want), "{r:?} {c}");
    };
    ok(
        Some("https://charts.io/stable/"),
        "redis",
        "index https://charts.io/stable redis",
    );
    ok(
        Some("http://127.0.0.1:8000"),
        "x",
        "index http://127.0.0.1:8000 x",
    );
    ok(
        Some("oci://ghcr.io/argoproj/argo-helm"),
        "argo-cd",
        "oci oci://ghcr.io/argoproj/argo-helm/argo-cd",
    );
    ok(
        Some("public.ecr.aws/karpenter"),
        "karpenter",
        "oci oci://public.ecr.aws/karpenter/karpenter",
    );
    ok(
        Some("127.0.0.1:5000/charts"),
        "x",
        "oci oci://127.0.0.1:5000/charts/x",
    );
    ok(
        None,
        "oci://public.ecr.aws/karpenter/karpenter",
        "oci oci://public.ecr.aws/karpenter/karpenter",
    );
    // Terraform ignores `repository` when the chart is a full OCI reference.
    ok(
        Some("https://ignored.io"),
        "oci://r.io/a/b",
        "oci oci://r.io/a/b",
    );
}

#[test]
fn pins_without_a_lookup_say_why() {
    let why = |r: Option<&str>, c: Option<&str>| classify(r, c).unwrap_err();
    assert!(why(Some("https://github.com/org/charts.git"), Some("x")).contains("git"));
    assert!(why(Some("https://github.com/org/charts"), Some("x")).contains("git"));
    assert!(why(Some("git@github.com:org/charts"), Some("x")).contains("git"));
    assert!(why(Some("ssh://git.corp/x"), Some("x")).contains("git"));
    assert!(why(None, Some("redis")).contains("no repository"));
    assert!(why(Some("https://a.io"), None).contains("not resolved"));
    assert!(why(Some("@stable"), Some("x")).contains("alias"));
    assert!(why(Some("{{ .Values.repo }}"), Some("x")).contains("template"));
    assert!(why(Some("file://../local"), Some("x")).contains("[[helm.mirrors]]"));
    assert!(why(Some("file:///dev/zero"), Some("x")).contains("not read"));
    assert!(why(Some("s3://bucket/charts"), Some("x")).contains("not supported"));
    assert!(why(Some("stable"), Some("x")).contains("not a URL"));
    assert!(why(Some("https://a.io"), Some("./charts/local")).contains("path"));
}

#[test]
fn outcome_text() {
    assert_eq!(
        Outcome::NoLookup("no repository".into()).to_string(),
        "no lookup: no repository"
    );
    assert_eq!(
        Outcome::Releases(vec![Release::default()]).to_string(),
        "1 releases"
    );
}
