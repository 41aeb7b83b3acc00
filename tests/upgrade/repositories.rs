//! Two repositories in one configuration (`[[repositories]]`), each on its
//! own fake GitHub: `acme/platform` holds the Terraform pin, `acme/apps`
//! the Argo CD Applications. One upgrade job that names no repository is
//! handed to each, and each gets its own upgrade PRs and dashboard issue;
//! an alert for an app of `acme/apps` reverts its change there and leaves
//! `acme/platform` alone.

use std::sync::Arc;

use chartpilot::clock::SystemClock;
use chartpilot::jobs::{ChatCommand, ChatSource, Job, JobEnvelope};
use chartpilot::settings::Settings;
use chartpilot::worker::repos::Repositories;

use super::fixture::{self, CHARTS_URL};
use super::org::{drain, heads, pass, seed, start};
use super::support::fake_github::FakeGithub;
use super::support::{self, PATIENCE};
use super::{scratch, CERT_MANAGER_BRANCH, PODINFO_BRANCH};

#[tokio::test]
async fn two_repositories_get_their_own_prs_dashboards_and_rollbacks() {
    let platform = FakeGithub::start_named("acme", "platform").await;
    let apps = FakeGithub::start_named("acme", "apps").await;
    seed(&platform, |p| p.ends_with(".tf"));
    let seed_sha = seed(&apps, |p| p.starts_with("environments/"));
    // A person's merged bump of podinfo in prod, which an alert rolls back.
    apps.set_branch("bump-podinfo", &seed_sha);
    let bumped = fixture::files()
        .into_iter()
        .find(|(p, _)| p == "environments/prod/podinfo.yaml")
        .unwrap()
        .1
        .replace("targetRevision: 6.5.0", "targetRevision: 6.5.1");
    apps.commit_files(
        "bump-podinfo",
        &[("environments/prod/podinfo.yaml", &bumped)],
    );
    let bump = apps.add_pull("bump-podinfo", "chore(deps): podinfo 6.5.1 in prod");
    let merge = apps.merge_into_base(bump);

    let scratch = scratch("6.6.0");
    let alert_token = support::random_secret();
    let config = scratch.tmp.path().join("chartpilot.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[queue]\npath = \"{queue}\"\n\
             [github]\ntoken = \"{pt}\"\napi_url = \"{pu}\"\n\
             [alertmanager]\ntoken = \"{alert_token}\"\n\
             [upgrade]\ninterval = \"0s\"\n\
             [helm]\ntimeout = \"5s\"\n\
             [[helm.mirrors]]\nfrom = \"{CHARTS_URL}\"\nto = \"file://{index}\"\n\
             [[rollback.rules]]\nmatchers = ['severity=\"critical\"']\napp_labels = [\"argocd_app\"]\nenv_labels = [\"env\"]\naction = \"revert-pr\"\n\
             [[repositories]]\nrepository = \"{platform_repo}\"\n\
             [[repositories]]\nrepository = \"{apps_repo}\"\ngithub = {{ token = \"{at}\", api_url = \"{au}\" }}\n",
            queue = scratch.tmp.path().join("queue").display(),
            pt = platform.token,
            pu = platform.url,
            at = apps.token,
            au = apps.url,
            index = scratch.index_dir.display(),
            platform_repo = platform.repository(),
            apps_repo = apps.repository(),
        ),
    )
    .unwrap();
    let settings = Settings::load(Some(&config), &Default::default()).expect("settings");
    assert!(settings.serves_many());
    let clock = Arc::new(SystemClock);
    let repos = Repositories::from_settings(&settings, clock.clone()).await;
    for (key, h) in repos.handlers() {
        assert!(h.upgrader.is_ok(), "{key}: {:?}", h.upgrader.as_ref().err());
        assert!(
            h.rollbacker.is_ok(),
            "{key}: {:?}",
            h.rollbacker.as_ref().err()
        );
    }
    let (base, worker, queue) = start(&settings, Arc::new(repos)).await;

    // One upgrade job naming no repository: handed to each.
    let pass = pass(None, "test", "upgrade-both");
    queue.publish(&pass).await.unwrap();
    assert_eq!(
        drain(&worker).await,
        3,
        "the job and one pass per repository"
    );

    assert_eq!(
        heads(&platform),
        [CERT_MANAGER_BRANCH],
        "the Terraform repository gets the cert-manager PR, and only it"
    );
    assert!(
        heads(&apps).contains(&PODINFO_BRANCH.to_owned())
            && !heads(&apps).iter().any(|h| h.contains("cert-manager")),
        "{:?}",
        heads(&apps)
    );
    let dashboard = |fake: &FakeGithub| {
        let issues = fake.issues();
        assert_eq!(issues.len(), 1, "one dashboard issue each");
        issues[0].body.clone()
    };
    let (p, a) = (dashboard(&platform), dashboard(&apps));
    assert!(p.contains("cert-manager") && !p.contains("podinfo"), "{p}");
    assert!(a.contains("podinfo") && !a.contains("cert-manager"), "{a}");

    // An alert for podinfo in prod: reverted in acme/apps, nothing in
    // acme/platform, which has no such app.
    let notification = serde_json::json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"PodinfoDown\"}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "chartpilot",
        "groupLabels": {},
        "commonLabels": {"alertname": "PodinfoDown", "argocd_app": "podinfo-prod", "env": "prod", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "PodinfoDown", "argocd_app": "podinfo-prod", "env": "prod", "severity": "critical"},
            "annotations": {},
            "startsAt": chrono::Utc::now().to_rfc3339(),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9/graph",
            "fingerprint": "feed0123"
        }]
    });
    let res = reqwest::Client::new()
        .post(format!("{base}/webhooks/alertmanager"))
        .bearer_auth(&alert_token)
        .json(&notification)
        .timeout(PATIENCE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    assert_eq!(
        drain(&worker).await,
        3,
        "the alert and one run per repository"
    );
    let revert = format!("chartpilot/revert/{merge}");
    assert!(heads(&apps).contains(&revert), "{:?}", heads(&apps));
    assert_eq!(
        heads(&platform),
        [CERT_MANAGER_BRANCH],
        "nothing reverted where the app has no pin"
    );

    // Chat: a command that could mean either repository is asked for
    // --repo, naming both; with --repo it runs there, and its audit line
    // says which repository it ran in.
    let (reply_url, replies, _listener) = support::json_listener();
    let captured = support::logs::capture();
    for (delivery, text) in [
        ("chat-ambiguous", "status podinfo"),
        ("chat-apps", "status podinfo --repo acme/apps"),
    ] {
        let chat = JobEnvelope::new(
            &Job::Chat(ChatCommand {
                source: ChatSource::Slack,
                user: "U0PAT".into(),
                user_name: Some("pat".into()),
                text: text.into(),
                reply_url: Some(reply_url.clone()),
                channel: Some("platform".into()),
            }),
            delivery.into(),
            None,
            chrono::Utc::now(),
        )
        .unwrap();
        queue.publish(&chat).await.unwrap();
        assert_eq!(drain(&worker).await, 1, "{text}");
    }
    let texts: Vec<String> = replies
        .lock()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        texts[0].contains("add --repo with one of")
            && texts[0].contains("`acme/platform`")
            && texts[0].contains("`acme/apps`"),
        "{texts:?}"
    );
    let audit: Vec<serde_json::Value> = captured
        .lines()
        .into_iter()
        .filter(|l| l["target"] == "chartpilot::audit")
        .collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["fields"]["command"], "status podinfo", "{audit:?}");
    assert_eq!(audit[0]["span"]["repository"], "acme/apps", "{audit:?}");
}
