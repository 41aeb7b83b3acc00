use chartpilot::charts::lookup::{ChartKey, Lookup, Outcome};
use chartpilot::pins::{Pin, PinKind};

use super::server::{Reply, Request, Server};
use super::{mirror, settings, INDEX};

fn pin(file: &str, repository: Option<&str>, chart: &str) -> Pin {
    Pin {
        file: file.into(),
        line: 1,
        kind: PinKind::Argocd,
        name: chart.into(),
        env: None,
        repository: repository.map(str::to_owned),
        chart: Some(chart.into()),
        version: Some("1.0.0".into()),
        span: None,
        reason: None,
        constraint: None,
        local_chart: false,
        address: None,
    }
}

fn versions(outcome: Option<&Outcome>) -> Vec<String> {
    match outcome {
        Some(Outcome::Releases(r)) => r.iter().map(|r| r.version.clone()).collect(),
        other => panic!("expected releases, got {other:?}"),
    }
}

#[tokio::test]
async fn one_index_request_per_repository_for_a_whole_scan() {
    let index = Server::start(|_| {
        |req: &Request| match req.header("if-none-match") {
            Some("\"v1\"") => Reply::status(304),
            _ => Reply::ok(INDEX).header("ETag", "\"v1\""),
        }
    })
    .await;
    let registry = Server::start(|base| super::oci::registry(base, false)).await;
    let mut settings = settings();
    // Argo CD's scheme-less OCI repoURL, routed to the local registry.
    settings.mirrors = vec![mirror("ghcr.example.invalid", &registry.url())];
    let lookup = Lookup::new(&settings).unwrap();
    let stable = format!("{}/stable", index.url());
    let pins = vec![
        pin("tf/main.tf", Some(&stable), "app"),
        pin("apps/dev/app.yaml", Some(&format!("{stable}/")), "other"),
        pin("apps/prod/app.yaml", Some(&stable), "app"),
        pin("umbrella/Chart.yaml", Some(&stable), "zzz"),
        pin(
            "apps/dev/oci.yaml",
            Some("ghcr.example.invalid/charts"),
            "app",
        ),
        pin(
            "apps/dev/git.yaml",
            Some("https://github.com/org/charts.git"),
            "app",
        ),
        pin("tf/local.tf", None, "redis"),
    ];
    let found = lookup.releases(&pins).await;
    assert_eq!(index.requests().len(), 1, "one index for all its charts");
    assert_eq!(
        found.len(),
        6,
        "the two `app` pins of one repository share a key"
    );
    assert_eq!(versions(found.get(&pins[0])), ["1.1.0", "1.0.0"]);
    assert_eq!(versions(found.get(&pins[2])), ["1.1.0", "1.0.0"]);
    assert_eq!(versions(found.get(&pins[1])), ["v2.0.0"]);
    match found.get(&pins[3]) {
        Some(Outcome::Failed(e)) => assert!(e.contains("no chart `zzz`"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        versions(found.get(&pins[4])),
        ["1.0.0", "1.0.1", "1.1.0+build.5", "v2.0.0-rc.1"]
    );
    for (pin, why) in [(&pins[5], "git repository"), (&pins[6], "no repository")] {
        let text = found.get(pin).unwrap().to_string();
        assert!(
            text.starts_with("no lookup: ") && text.contains(why),
            "{text}"
        );
    }

    // Release times: from the index when it has them, lazily from OCI.
    let oci_key = ChartKey::of(&pins[4]);
    let oci = found.get(&pins[4]).unwrap().releases().unwrap();
    let created = lookup.release_time(&oci_key, &oci[2]).await.unwrap();
    assert_eq!(created.unwrap().to_rfc3339(), "2024-05-02T08:30:00+00:00");
    let indexed = &found.get(&pins[0]).unwrap().releases().unwrap()[0];
    let before = index.requests().len();
    let created = lookup
        .release_time(&ChartKey::of(&pins[0]), indexed)
        .await
        .unwrap();
    assert_eq!(created, indexed.created);
    assert_eq!(index.requests().len(), before);

    // The next pass revalidates instead of downloading again.
    let again = lookup.releases(&pins).await;
    assert_eq!(versions(again.get(&pins[0])), ["1.1.0", "1.0.0"]);
    let requests = index.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
}
