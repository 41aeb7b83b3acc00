//! A minimum release age over an OCI registry: only releases the policy
//! would take but for their age cost a manifest request.

use std::collections::HashMap;

use super::server::{Reply, Request, Server};
use chartpilot::charts::lookup::{ChartKey, Lookup};
use chartpilot::charts::policy::{select, EffectivePolicy};
use chartpilot::charts::version::Version;
use chartpilot::pins::{Pin, PinKind};
use chartpilot::settings::Settings;
use chartpilot::upgrade::run::ReleaseSource;

fn registry() -> impl Fn(&Request) -> Reply + Send + Sync {
    |req: &Request| {
        let manifest = |day: &str| {
            Reply::ok(format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json"}},"annotations":{{"org.opencontainers.image.created":"2024-01-{day}T00:00:00Z"}}}}"#
            ))
        };
        match req.path() {
            "/v2/charts/app/tags/list" => {
                Reply::ok(r#"{"name":"charts/app","tags":["1.0.0","1.1.0","2.0.0"]}"#)
            }
            "/v2/charts/app/manifests/1.0.0" => manifest("01"),
            "/v2/charts/app/manifests/1.1.0" => manifest("02"),
            "/v2/charts/app/manifests/2.0.0" => manifest("03"),
            _ => Reply::status(404),
        }
    }
}

#[tokio::test]
async fn min_release_age_with_minor_only_policy_still_finds_the_old_minor() {
    let server = Server::start(|_| registry()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[policy]\nupdate_types = [\"patch\", \"minor\"]\nmin_release_age = \"3d\"\n",
    )
    .unwrap();
    let settings = Settings::load(Some(&cfg), &HashMap::new()).unwrap();
    let pin = Pin {
        file: "environments/dev/app.yaml".into(),
        line: 1,
        kind: PinKind::Argocd,
        name: "app".into(),
        env: Some("dev".into()),
        repository: Some(format!("oci://{}/charts", server.addr)),
        chart: Some("app".into()),
        version: Some("1.0.0".into()),
        span: None,
        reason: None,
        constraint: None,
        local_chart: false,
        address: None,
    };
    let lookup = Lookup::new(&settings.helm).unwrap();
    let now = chrono::Utc::now();
    let releases =
        ReleaseSource::releases(&lookup, std::slice::from_ref(&pin), &settings.policy, now).await;
    let list = releases[&ChartKey::of(&pin)].as_ref().unwrap();
    let effective = EffectivePolicy::for_chart(&settings.policy, "app").unwrap();
    let s = select(&Version::parse("1.0.0"), list, &effective, now);
    // 1.1.0 is a minor, published in January 2024: long past 3 days.
    assert_eq!(
        s.newer.map(|r| r.version.as_str()),
        Some("1.1.0"),
        "held back: {:?}; times: {:?}",
        s.held_back.map(|h| h.reason),
        list.iter()
            .map(|r| (&r.version, r.created))
            .collect::<Vec<_>>()
    );
    // The forbidden major was never asked about: its time stays unknown.
    let major = list.iter().find(|r| r.version == "2.0.0").unwrap();
    assert_eq!(major.created, None);
}
