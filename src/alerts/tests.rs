use std::path::PathBuf;

use super::*;

/// Real `GET /api/v2/alerts` answers captured from Alertmanager 0.25.
fn corpus(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/alertmanager/api-v2-responses")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn parses_the_real_alert_list() {
    let alerts = parse_alerts(&corpus("get-api-v2-alerts.json")).unwrap();
    let fingerprints: Vec<&str> = alerts.iter().map(|a| a.fingerprint.as_ref()).collect();
    assert_eq!(
        fingerprints,
        [
            "05503a7c1f2195bf",
            "24d5c2a546ec7dd6",
            "b09ef9ce7fd6457c",
            "ee9531db6463c4a5"
        ]
    );
    assert!(alerts.iter().all(|a| a.state == AlertState::Active));

    let hub = &alerts[3];
    assert_eq!(hub.labels["alertname"], "KubeDeploymentReplicasMismatch");
    assert_eq!(hub.labels["argocd_app"], "jupyterhub");
    assert_eq!(hub.labels["severity"], "critical");
    assert_eq!(
        hub.annotations["summary"],
        "Deployment has not matched the expected number of replicas."
    );
    assert_eq!(hub.starts_at.to_rfc3339(), "2026-11-24T00:25:14.359+00:00");
    // `\u0026` in the JSON is a plain `&` in the URL.
    assert_eq!(
        hub.generator_url,
        "http://127.0.0.1:19090/graph?g0.expr=vector%281%29&g0.tab=1"
    );
}

#[test]
fn parses_the_real_filtered_list() {
    let all = parse_alerts(&corpus("get-api-v2-alerts.json")).unwrap();
    let grafana =
        parse_alerts(&corpus("get-api-v2-alerts.filter-argocd_app-grafana.json")).unwrap();
    assert_eq!(grafana.len(), 3);
    for alert in &grafana {
        assert_eq!(alert.labels["argocd_app"], "grafana");
        assert_eq!(alert.labels["alertname"], "KubePodCrashLooping");
        assert!(all.contains(alert), "{alert:?} not in the unfiltered list");
    }
}

#[test]
fn other_states_and_missing_optional_fields() {
    let body = br#"[
      {"labels":{"app":"a"},"startsAt":"2026-01-01T00:00:00.123456789Z",
       "status":{"state":"unprocessed","silencedBy":[],"inhibitedBy":[]},
       "fingerprint":"0a1b","endsAt":"2026-01-01T01:00:00Z","extra":{"x":1}},
      {"labels":{},"annotations":{},"startsAt":"2026-01-01T00:00:00Z",
       "status":{"state":"suppressed"},"fingerprint":"ff","generatorURL":""}
    ]"#;
    let alerts = parse_alerts(body).unwrap();
    assert_eq!(alerts[0].state, AlertState::Unprocessed);
    assert!(alerts[0].annotations.is_empty());
    assert_eq!(alerts[0].generator_url, "");
    assert_eq!(alerts[1].state, AlertState::Suppressed);
}

#[test]
fn unexpected_bodies_are_errors_not_panics() {
    let cases: &[&[u8]] = &[
        b"",
        b"<html><body>Bad gateway</body></html>",
        b"{\"alerts\":[]}",
        b"[{\"labels\":{}}]",
        br#"[{"labels":{},"startsAt":"yesterday","status":{"state":"active"},"fingerprint":"ab"}]"#,
        br#"[{"labels":{},"startsAt":"2026-01-01T00:00:00Z","status":{"state":"firing"},"fingerprint":"ab"}]"#,
        br#"[{"labels":{},"startsAt":"2026-01-01T00:00:00Z","status":{"state":"active"},"fingerprint":"not hex"}]"#,
        br#"[{"labels":{"a":1},"startsAt":"2026-01-01T00:00:00Z","status":{"state":"active"},"fingerprint":"ab"}]"#,
        &[0xff, 0xfe, b'['],
    ];
    for body in cases {
        let err = parse_alerts(body).unwrap_err();
        assert!(matches!(err, AlertsError::Malformed(_)), "{err}");
        assert!(!err.is_transient());
    }
}

#[test]
fn query_has_one_escaped_filter_per_matcher() {
    let client =
        AlertmanagerClient::new("http://127.0.0.1:19093/", Duration::from_secs(1)).unwrap();
    let matchers = [
        Matcher::equal("app", "a b&c"),
        Matcher::new("ns", MatchOp::Regex, "x\"y\\.z"),
    ];
    let request = client
        .http
        .get(&client.alerts_url)
        .query(&firing_query(&matchers))
        .build()
        .unwrap();
    let url = request.url();
    assert_eq!(url.path(), "/api/v2/alerts");
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let want = [
        ("active", "true"),
        ("silenced", "false"),
        ("inhibited", "false"),
        ("filter", r#"app="a b&c""#),
        ("filter", r#"ns=~"x\"y\\.z""#),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(pairs, want);
}

#[test]
fn api_url_must_be_http() {
    let ok = [
        (
            "http://127.0.0.1:9093",
            "http://127.0.0.1:9093/api/v2/alerts",
        ),
        (
            "https://host/alertmanager/",
            "https://host/alertmanager/api/v2/alerts",
        ),
    ];
    for (base, want) in ok {
        let client = AlertmanagerClient::new(base, Duration::from_secs(1)).unwrap();
        assert_eq!(client.alerts_url, want);
    }
    for bad in ["", "   ", "127.0.0.1:9093", "ftp://host", "http://"] {
        let err = AlertmanagerClient::new(bad, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, AlertsError::InvalidUrl(_)), "{bad:?}: {err}");
    }
}

#[test]
fn error_messages_from_bodies() {
    let long = "x".repeat(MAX_ERROR_CHARS + 50);
    let cases: &[(&[u8], String)] = &[
        (
            br#""bad matcher format: app=~\"(\"""#,
            r#"bad matcher format: app=~"(""#.to_owned(),
        ),
        (
            br#"{"code":602,"message":"filter in query is required"}"#,
            "filter in query is required".to_owned(),
        ),
        (
            b"<html>403 Forbidden</html>\n",
            "<html>403 Forbidden</html>".to_owned(),
        ),
        (b"  \n", "(empty body)".to_owned()),
        (long.as_bytes(), format!("{}…", &long[..MAX_ERROR_CHARS])),
    ];
    for (body, want) in cases {
        assert_eq!(&error_message(body), want);
    }
}
