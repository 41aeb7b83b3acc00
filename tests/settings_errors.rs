//! Invalid configurations and the exact message each gets: the key as
//! written in TOML first, then what is wrong and what would be valid.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::HashMap;
use std::io::Write;

use chartpilot::settings::{RollbackAction, Settings};

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Settings, String> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::load(Some(f.path()), &env).map_err(|e| e.to_string())
}

/// A GitHub host that passes every rule, for cases about something else.
const GITHUB: &str = "[git]\nprovider = \"github\"\nrepository = \"acme/gitops\"\n\
                      [github]\ntoken = \"ghp_s3cr3t\"\n";

/// (config file, environment, the exact message)
type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn invalid_configurations_and_their_exact_messages() {
    let github_then = |rest: &str| format!("{GITHUB}{rest}");
    let cases: Vec<Case> = vec![
        // Unknown enum values name the valid ones, from the file or the
        // environment.
        (
            "[git]\nprovider = \"gitlab\"".into(),
            vec![],
            "git.provider: \"gitlab\" is not one of local, github",
        ),
        (
            String::new(),
            vec![("CHARTPILOT__QUEUE__KIND", "kafka")],
            "queue.kind: \"kafka\" is not one of embedded, amqp",
        ),
        (
            "[policy]\nranges = \"sometimes\"".into(),
            vec![],
            "policy.ranges: \"sometimes\" is not one of leave, pin",
        ),
        (
            "[policy]\nupdate_types = [\"patch\", \"huge\"]".into(),
            vec![],
            "policy.update_types[1]: \"huge\" is not one of patch, minor, major",
        ),
        (
            "[[rollback.rules]]\nmatchers = ['severity=\"critical\"']\naction = \"revert\"".into(),
            vec![],
            "rollback.rules[0].action: \"revert\" is not one of revert-pr, revert-push, argocd-rollback",
        ),
        // Key paths as written in TOML: a dot after the index.
        (
            "[[helm.mirrors]]\nfrom = \"https://charts.example.org\"\nto = [\"x\"]".into(),
            vec![],
            "helm.mirrors[0].to: invalid type: sequence, expected a string",
        ),
        (
            "[[helm.mirrors]]\nfrom = \"https://charts.example.org\"".into(),
            vec![],
            "helm.mirrors[0].to: is required",
        ),
        (
            "[[helm.mirrors]]\nfrom = \"https://a.example\"\nto = \"https://b.example\"\n\
             [[helm.mirrors]]\nfrom = \"ftp://charts.example.org\"\nto = \"https://m.example\""
                .into(),
            vec![],
            "helm.mirrors[1].from: must be an https://, http://, oci:// or file:// URL, \
             or a registry path without a scheme (oci://)",
        ),
        (
            "[[rollback.rules]]\nmatchers = ['severity=\"critical\"']\napp_labels = []".into(),
            vec![],
            "rollback.rules[0].app_labels: needs at least one label name",
        ),
        (
            "[[rollback.rules]]\nmatchers = ['severity=\"critical\"']\napp_labels = \"app\"".into(),
            vec![],
            "rollback.rules[0].app_labels: invalid type: string \"app\", expected a sequence",
        ),
        (
            "[server]\nlisten_port = 8080".into(),
            vec![],
            "server.listen_port: unknown key; expected one of listen, max_body_bytes, \
             body_timeout, max_unauthenticated_bytes, max_connections, status_auth, \
             status_auth_file",
        ),
        (
            "[policy]\nsoak = \"forever\"".into(),
            vec![],
            "policy.soak: `forever` is not a duration like 30s, 5m, 2h (expected number at 0)",
        ),
        // Cross-field rules, at load rather than at the first webhook.
        (
            "[git]\nprovider = \"github\"\n[github]\ntoken = \"ghp_s3cr3t\"".into(),
            vec![],
            "git.repository: git.provider = \"github\" needs the repository as owner/name",
        ),
        (
            "[git]\nprovider = \"github\"\nrepository = \"acme\"\n[github]\ntoken = \"ghp_s3cr3t\""
                .into(),
            vec![],
            "git.repository: `acme` is not owner/name (e.g. acme/platform-gitops)",
        ),
        (
            "[git]\nprovider = \"github\"\nrepository = \"acme/gitops\"".into(),
            vec![],
            "github.token: git.provider = \"github\" needs github.token (or github.token_file), \
             or a GitHub App (github.app_id and github.private_key_file)",
        ),
        (
            "[github]\napp_id = 123456".into(),
            vec![],
            "github.app_id: needs github.private_key_file (the App's private key)",
        ),
        (
            "[github]\nprivate_key_file = \"/run/secrets/app.pem\"".into(),
            vec![],
            "github.private_key_file: needs github.app_id (the App the key belongs to)",
        ),
        (
            "[argocd]\nmode = \"api\"\ntoken = \"argo-s3cr3t\"".into(),
            vec![],
            "argocd.api_url: argocd.mode = \"api\" needs the Argo CD server URL, \
             e.g. https://argocd.example.org",
        ),
        (
            "[argocd]\nmode = \"api\"\napi_url = \"https://argocd.example.org\"".into(),
            vec![],
            "argocd.token: argocd.mode = \"api\" needs an Argo CD API token (or argocd.token_file)",
        ),
        (
            "[argocd]\nmode = \"api\"\napi_url = \"https://admin:hunter2@argocd.example.org\"\n\
             token = \"argo-s3cr3t\""
                .into(),
            vec![],
            "argocd.api_url: must be an http:// or https:// URL without a user or password \
             (use argocd.token)",
        ),
        (
            "[[rollback.rules]]\nmatchers = []".into(),
            vec![],
            "rollback.rules[0].matchers: needs at least one matcher, e.g. 'severity=\"critical\"'",
        ),
        (
            "[[rollback.rules]]\nmatchers = ['severity=\"critical\"']\naction = \"argocd-rollback\""
                .into(),
            vec![],
            "rollback.rules[0].action: \"argocd-rollback\" needs argocd.mode = \"kube\" or \"api\"",
        ),
        (
            "[[rollback.rules]]\nmatchers = ['severity=\"critical\"']\n\
             [rollback.rules.env_values]\nproduction = \"live\""
                .into(),
            vec![],
            "rollback.rules[0].env_values.production: `live` is not one of policy.environments \
             (dev, staging, prod)",
        ),
        (
            github_then(
                "[[chat.allow]]\nverbs = [\"sync\"]\nenvironments = [\"dev\"]\n\
                 slack_groups = [\"S0SRE\"]\nslack_users = [\"U1\"]",
            ),
            vec![],
            "chat.allow[0].slack_groups: needs slack.bot_token (scope usergroups:read) \
             to ask Slack who is in a group",
        ),
        (
            github_then(
                "[[chat.allow]]\nverbs = [\"rollback\"]\nenvironments = [\"*\"]\n\
                 github_permission = \"none\"",
            ),
            vec![],
            "chat.allow[0].github_permission: `none` is anyone who can comment; \
             use triage or higher, or name people",
        ),
    ];
    assert!(cases.len() >= 15);
    for (text, vars, want) in &cases {
        let got = load(text, vars).map(|_| ()).unwrap_err();
        assert_eq!(got, *want, "config:\n{text}\nenv: {vars:?}");
        // Secrets given inline are never repeated back.
        for secret in ["ghp_s3cr3t", "argo-s3cr3t", "hunter2"] {
            assert!(!got.contains(secret), "{got}");
        }
    }
}

#[test]
fn what_the_docs_promise_loads() {
    // A `from` without a scheme is an OCI registry path.
    let s = load(
        "[[helm.mirrors]]\nfrom = \"ghcr.io/acme/charts\"\nto = \"oci://mirror.internal/acme\"",
        &[],
    )
    .unwrap();
    assert_eq!(s.helm.mirrors[0].from, "ghcr.io/acme/charts");
    // A rule names its matchers; the labels default as documented.
    let s = load(
        "[[rollback.rules]]\nmatchers = ['alertname=\"PodCrashLooping\"']",
        &[],
    )
    .unwrap();
    let rule = &s.rollback.rules[0];
    assert_eq!(rule.app_labels, ["argocd_app", "name", "app", "release"]);
    assert_eq!(rule.env_labels, ["env", "environment"]);
    assert_eq!(rule.action, RollbackAction::RevertPr);
    // A GitHub App stands in for a token.
    let s = load(
        "[git]\nprovider = \"github\"\nrepository = \"acme/gitops\"\n\
         [github]\napp_id = 7\nprivate_key_file = \"/run/secrets/app.pem\"",
        &[],
    )
    .unwrap();
    assert_eq!(s.github.app_id, Some(7));
    // The whole GitHub host, and Argo CD through the API, from the environment.
    let s = load(
        "",
        &[
            ("CHARTPILOT__GIT__PROVIDER", "github"),
            ("CHARTPILOT__GIT__REPOSITORY", "acme/gitops"),
            ("CHARTPILOT__GITHUB__TOKEN", "ghp_x"),
            ("CHARTPILOT__ARGOCD__MODE", "api"),
            (
                "CHARTPILOT__ARGOCD__API_URL",
                "https://argocd.example.org/argocd",
            ),
            ("CHARTPILOT__ARGOCD__TOKEN", "t"),
        ],
    )
    .unwrap();
    assert_eq!(s.git.repository, "acme/gitops");
}
