//! Rules naming Slack user groups, asked of a stand-in for Slack's Web API.

use super::*;

/// A stand-in for Slack's Web API: `usergroups.users.list` for one group,
/// only with the right bot token.
fn slack_api(token: String) -> (String, actix_web::dev::ServerHandle) {
    let (l, url) = support::loopback();
    let handle = support::serve(l, move |cfg| {
        let token = token.clone();
        cfg.route(
            "/api/usergroups.users.list",
            web::get().to(move |req: actix_web::HttpRequest| {
                let token = token.clone();
                async move {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let body = if auth != format!("Bearer {token}") {
                        serde_json::json!({ "ok": false, "error": "invalid_auth" })
                    } else if req.query_string() == "usergroup=S0SRE" {
                        serde_json::json!({ "ok": true, "users": ["U0GROUPIE", "U0OTHER"] })
                    } else {
                        serde_json::json!({ "ok": false, "error": "no_such_subteam" })
                    };
                    actix_web::HttpResponse::Ok().json(body)
                }
            }),
        );
    });
    (format!("{url}/api"), handle)
}

#[tokio::test]
async fn a_slack_user_group_grants_what_its_rule_allows_and_nothing_more() {
    let token = format!("xoxb-{}", random_secret());
    let (api, _api) = slack_api(token.clone());
    let w = world_with(|s| {
        s.slack.api_url = api;
        s.slack.bot_token = chartpilot::settings::Secret::new(token);
        s.chat.allow.push(chartpilot::settings::ChatAllow {
            verbs: vec!["freeze".into(), "unfreeze".into()],
            environments: vec!["dev".into()],
            slack_groups: vec!["S0SRE".into()],
            ..Default::default()
        });
    })
    .await;
    let sample = "05-freeze-with-reason.body.txt";
    w.slack_text(sample, Some("U0GROUPIE"), Some("freeze dev demo day"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "in_channel", "{r}");
    let freeze = git(&w.repo, &["show", "main:.chartpilot/freeze.yaml"]);
    assert!(
        freeze.contains("U0GROUPIE") && freeze.contains("demo day"),
        "{freeze}"
    );
    // The same freeze again (a replay, a second click) commits nothing.
    let head = git(&w.repo, &["rev-parse", "main"]);
    w.slack_text(sample, Some("U0GROUPIE"), Some("freeze dev demo day"))
        .await;
    let r = w.reply().await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("already so, nothing changed"),
        "{r}"
    );
    assert_eq!(git(&w.repo, &["rev-parse", "main"]), head);
    // The group's rule is for dev only.
    w.slack_text(sample, Some("U0GROUPIE"), Some("freeze prod no"))
        .await;
    let r = w.reply().await;
    assert_eq!(r["response_type"], "ephemeral", "{r}");
    assert!(
        r["text"].as_str().unwrap().starts_with("Not allowed"),
        "{r}"
    );
    // Someone outside the group.
    w.slack_text(sample, Some("U0STRANGER"), Some("unfreeze dev"))
        .await;
    let r = w.reply().await;
    assert!(
        r["text"].as_str().unwrap().starts_with("Not allowed"),
        "{r}"
    );
}
