use super::*;

fn settings(url: &str) -> ArgocdSettings {
    ArgocdSettings {
        mode: crate::settings::ArgocdMode::Api,
        api_url: url.to_owned(),
        token: Secret::new("tok-123"),
        token_file: None,
        namespace: "argocd".to_owned(),
        sync_options: Vec::new(),
        sync_automated: false,
        ca_file: None,
        kubeconfig: None,
    }
}

#[test]
fn names_follow_dns_1123() {
    for good in ["web", "web-dev", "a.b-c", "0app", "x"] {
        assert!(check_name(good).is_ok(), "{good}");
    }
    let long = "a".repeat(MAX_NAME_LEN + 1);
    for bad in [
        "", "Web", "-web", "web-", "a/b", "a%2fb", "..", "a b", "é", &long,
    ] {
        assert!(
            matches!(check_name(bad), Err(ArgoError::Refused(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn urls_keep_a_base_path() -> Result<(), ArgoError> {
    let client = ApiClient::new(&settings("https://cd.example.org/argocd/"))?;
    let url = client.app_url("web-dev")?;
    assert_eq!(
        url.as_str(),
        "https://cd.example.org/argocd/api/v1/applications/web-dev"
    );
    let client = ApiClient::new(&settings("http://127.0.0.1:8080"))?;
    let url = client.app_url("web")?;
    assert_eq!(
        url.as_str(),
        "http://127.0.0.1:8080/api/v1/applications/web"
    );
    Ok(())
}

#[test]
fn bad_settings_are_refused() {
    for url in [
        "",
        "not a url",
        "ftp://x",
        "mailto:a@b",
        "https://u:pw@cd.example.org",
    ] {
        assert!(
            matches!(ApiClient::new(&settings(url)), Err(ArgoError::Refused(_))),
            "{url:?}"
        );
    }
    let mut s = settings("http://127.0.0.1:1");
    s.token = Secret::default();
    assert!(matches!(ApiClient::new(&s), Err(ArgoError::Refused(_))));
    s.token = Secret::new("bad\ntoken");
    match ApiClient::new(&s) {
        Err(ArgoError::Refused(m)) => assert!(!m.contains("bad\ntoken")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn statuses_map_to_what_the_caller_does() {
    let cases = [
        (401, "", false),
        (404, "404 page not found", false),
        (403, "permission denied", false),
        (400, "invalid revision", false),
        (400, "another operation is already in progress", true),
        (409, "", true),
        (429, "", true),
        (500, "", true),
        (503, "", true),
    ];
    for (code, message, transient) in cases {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
        let error = classify(status, message, "GET /x", "web");
        assert_eq!(error.is_transient(), transient, "{code} {message}");
    }
}

#[test]
fn only_a_grpc_not_found_means_no_such_app() {
    assert!(is_grpc_not_found(
        br#"{"error":"x","code":5,"message":"x"}"#
    ));
    assert!(!is_grpc_not_found(b"404 page not found"));
    assert!(!is_grpc_not_found(br#"{"code":7}"#));
}

#[test]
fn an_application_with_nothing_in_it_is_unknown() -> Result<(), serde_json::Error> {
    let app: Application = serde_json::from_str(r#"{"metadata":{"labels":null}}"#)?;
    let status = app.into_status("web");
    assert_eq!(status.name, "web");
    assert_eq!(status.sync, "Unknown");
    assert_eq!(status.health, "Unknown");
    assert!(!status.automated);
    assert!(status.history.is_empty());
    Ok(())
}

#[test]
fn automated_can_be_switched_off_in_place() -> Result<(), serde_json::Error> {
    let on: Application =
        serde_json::from_str(r#"{"spec":{"syncPolicy":{"automated":{"prune":true}}}}"#)?;
    assert!(on.into_status("a").automated);
    let off: Application =
        serde_json::from_str(r#"{"spec":{"syncPolicy":{"automated":{"enabled":false}}}}"#)?;
    assert!(!off.into_status("a").automated);
    let multi: Application = serde_json::from_str(
        r#"{"status":{"sync":{"status":"Synced","revisions":["abc","def"]}}}"#,
    )?;
    assert_eq!(multi.into_status("a").revision.as_deref(), Some("abc"));
    Ok(())
}
