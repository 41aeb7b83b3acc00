use super::*;

#[test]
fn references_from_pins() {
    let r = |repo: Option<&str>, chart: &str| OciChart::new(repo, chart).map(|c| c.reference);
    assert_eq!(
        r(Some("oci://ghcr.io/org/charts/"), "argo-cd").as_deref(),
        Ok("oci://ghcr.io/org/charts/argo-cd")
    );
    assert_eq!(
        r(Some("public.ecr.aws/karpenter"), "karpenter").as_deref(),
        Ok("oci://public.ecr.aws/karpenter/karpenter")
    );
    assert_eq!(
        r(None, "oci://u:p@public.ecr.aws/k/k").as_deref(),
        Ok("oci://public.ecr.aws/k/k")
    );
    assert!(r(Some("https://charts.io"), "x").is_err());
    assert!(r(None, "x").is_err());
    assert!(r(Some("ghcr.io"), "../x").is_err());
    assert!(r(Some("ghcr.io"), "a?b").is_err());
}

#[test]
fn tags_map_to_versions() {
    assert_eq!(
        version_of_tag("1.2.3_build.1").as_deref(),
        Some("1.2.3+build.1")
    );
    assert_eq!(version_of_tag("v0.34.1").as_deref(), Some("v0.34.1"));
    assert_eq!(version_of_tag("2.0.0-rc.1").as_deref(), Some("2.0.0-rc.1"));
    assert_eq!(version_of_tag("latest"), None);
    assert_eq!(version_of_tag("sha256-abc.sig"), None);
    assert!(valid_tag("1.2.3_b") && !valid_tag("1.2.3/x") && !valid_tag(""));
}
