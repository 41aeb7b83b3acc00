use super::*;

fn release(version: &str) -> Release {
    Release {
        version: version.into(),
        ..Release::default()
    }
}

#[test]
fn versions_match_as_written_then_as_semver() {
    let releases = [release("v1.2.0"), release("1.2.0"), release("2.0.0+b.1")];
    let found = |v: &str| pick(&releases, v).map(|r| r.version.as_str());
    assert_eq!(found("1.2.0"), Some("1.2.0"), "exact spelling first");
    assert_eq!(found("v1.2.0"), Some("v1.2.0"));
    assert_eq!(found("2.0.0+b.1"), Some("2.0.0+b.1"));
    assert_eq!(found("v2.0.0+b.1"), Some("2.0.0+b.1"));
    assert_eq!(found("1.2"), None, "no range matching");
    assert_eq!(found("3.0.0"), None);
}

#[test]
fn archive_urls_may_not_reach_into_the_local_network_from_a_remote_index() {
    let url = |s: &str| Url::parse(s).unwrap();
    let public = url("https://charts.example.org/index.yaml");
    let local = url("http://127.0.0.1:8080/index.yaml");
    let on_disk = url("file:///srv/charts/index.yaml");
    let cases = [
        (&public, "https://cdn.example.net/app.tgz", true),
        (&public, "http://169.254.169.254/latest/meta-data", false),
        (&public, "http://10.1.2.3/app.tgz", false),
        (&public, "http://192.168.0.1/app.tgz", false),
        (&public, "http://[::1]:80/app.tgz", false),
        (&public, "http://[fd00::1]/app.tgz", false),
        (&public, "http://[fe80::1]/app.tgz", false),
        (&public, "http://[::ffff:127.0.0.1]/app.tgz", false),
        (&public, "http://localhost./app.tgz", false),
        (&public, "http://0.0.0.0/app.tgz", false),
        (&public, "file:///etc/passwd", false),
        (&public, "ftp://charts.example.org/app.tgz", false),
        (&local, "http://127.0.0.1:9090/app.tgz", true),
        (&local, "https://cdn.example.net/app.tgz", true),
        (&local, "file:///srv/app.tgz", false),
        (&on_disk, "file:///srv/charts/app.tgz", true),
        (&on_disk, "http://127.0.0.1/app.tgz", false),
    ];
    for (index, archive, allowed) in cases {
        let result = archive_allowed(Some(index), &url(archive));
        assert_eq!(result.is_ok(), allowed, "{index} → {archive}: {result:?}");
    }
}

#[test]
fn shown_urls_carry_no_userinfo_or_query() {
    assert_eq!(
        shown("https://u:p@h.io/a/app-1.0.0.tgz?X-Amz-Signature=s#f"),
        "https://h.io/a/app-1.0.0.tgz"
    );
    assert_eq!(shown("oci://h.io/a:1.0"), "oci://h.io/a:1.0");
}

#[test]
fn file_names_follow_helm_pull() {
    let name = |url: &str| {
        Downloaded {
            bytes: Vec::new(),
            provenance: None,
            url: url.into(),
        }
        .file_name()
    };
    assert_eq!(
        name("https://h/charts/app-1.2.0.tgz?sig=x"),
        "app-1.2.0.tgz"
    );
    assert_eq!(
        name("oci://ghcr.io/org/app:1.2.0_build.1"),
        "app-1.2.0+build.1.tgz"
    );
    assert_eq!(
        name("oci://127.0.0.1:5000/charts/app:1.0.0"),
        "app-1.0.0.tgz"
    );
}
