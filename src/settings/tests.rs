use std::collections::HashMap;
use std::io::Write;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load_err(text: &str, vars: &[(&str, &str)]) -> String {
    let f = file(text);
    Settings::load(Some(f.path()), &env(vars))
        .unwrap_err()
        .to_string()
}

#[test]
fn defaults_run_with_nothing_installed() {
    let s = Settings::load(Some(file("").path()), &env(&[])).unwrap();
    assert_eq!(s.queue.kind, QueueKind::Embedded);
    assert_eq!(s.git.provider, GitProvider::Local);
    assert_eq!(s.argocd.mode, ArgocdMode::None);
    assert_eq!(s.server.max_body_bytes, 5 * 1024 * 1024);
    assert_eq!(s.queue.job_timeout, Duration::from_secs(600));
    assert_eq!(s.queue.max_deliveries, 20);
    assert_eq!(s.server.body_timeout, Duration::from_secs(10));
    assert_eq!(s.server.max_unauthenticated_bytes, 32 * 1024 * 1024);
    assert_eq!(s.server.max_connections, 1024);
    assert_eq!(s.policy.rollout_window, Duration::from_secs(2 * 3600));
    assert_eq!(s.rollback.rules[0].action, RollbackAction::RevertPr);
    assert!(s.github.webhook_secret.is_empty());
    assert_eq!(s.pins.env_patterns, crate::pins::env::DEFAULT_PATTERNS);
}

#[test]
fn file_then_environment_override() {
    let f = file("[server]\nlisten = \"127.0.0.1:9000\"\n[queue]\nmax_attempts = 3\n");
    let s = Settings::load(
        Some(f.path()),
        &env(&[
            ("CHARTPILOT__QUEUE__MAX_ATTEMPTS", "7"),
            ("CHARTPILOT__POLICY__ENVIRONMENTS", "dev,prod"),
            ("CHARTPILOT__QUEUE__RETRY_DELAYS", "1s,2s"),
            ("CHARTPILOT__GITHUB__WEBHOOK_SECRET", "from-env"),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(s.server.listen, "127.0.0.1:9000");
    assert_eq!(s.queue.max_attempts, 7);
    assert_eq!(s.policy.environments, ["dev", "prod"]);
    assert_eq!(
        s.queue.retry_delays,
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert_eq!(s.github.webhook_secret.expose(), "from-env");
}

#[test]
fn secrets_from_files_and_redacted() {
    let secret = file("s3cr3t-value\n");
    let f = file(&format!(
        "[github]\nwebhook_secret_file = {:?}\n",
        secret.path().display().to_string()
    ));
    let s = Settings::load(Some(f.path()), &env(&[])).unwrap();
    assert_eq!(s.github.webhook_secret.expose(), "s3cr3t-value");
    let shown = s.redacted_toml().unwrap();
    assert!(!shown.contains("s3cr3t-value"), "{shown}");
    assert!(shown.contains("webhook_secret = \"[redacted]\""), "{shown}");
    assert!(!format!("{s:?}").contains("s3cr3t-value"));
}

#[test]
fn secrets_from_the_environment_are_verbatim() {
    let s = Settings::load(
        Some(file("").path()),
        &env(&[
            ("CHARTPILOT__CHAT__SECRET", "0042"),
            ("CHARTPILOT__SLACK__SIGNING_SECRET", "TRUE"),
            ("CHARTPILOT__GITHUB__WEBHOOK_SECRET", "a,b"),
        ]),
    )
    .unwrap();
    assert_eq!(s.chat.secret.expose(), "0042");
    assert_eq!(s.slack.signing_secret.expose(), "TRUE");
    assert_eq!(s.github.webhook_secret.expose(), "a,b");
}

#[test]
fn queue_url_from_a_file_replaces_the_default() {
    let url = file("amqp://app:pw@rabbit:5672/%2f\n");
    let f = file(&format!(
        "[queue]\nurl_file = {:?}\n",
        url.path().display().to_string()
    ));
    let s = Settings::load(Some(f.path()), &env(&[])).unwrap();
    assert_eq!(s.queue.url.expose(), "amqp://app:pw@rabbit:5672/%2f");
}

#[test]
fn secret_given_twice_or_unreadable() {
    let secret = file("x");
    let both = format!(
        "[chat]\nsecret = \"inline\"\nsecret_file = {:?}\n",
        secret.path().display().to_string()
    );
    assert!(load_err(&both, &[]).contains("chat.secret"));
    let missing = "[slack]\nsigning_secret_file = \"/nonexistent/chartpilot\"\n";
    let e = load_err(missing, &[]);
    assert!(
        e.starts_with("slack.signing_secret_file: cannot read"),
        "{e}"
    );
}

/// (config file, environment, text the error must hold)
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn invalid_values_name_their_key() {
    let cases: &[Case] = &[
        (
            "[pins]\nenv_patterns = [\"stages/\"]",
            &[],
            "pins.env_patterns[0]",
        ),
        (
            "[pins.env_aliases]\nprd = \"production\"",
            &[],
            "pins.env_aliases.prd: `production` is not one of policy.environments",
        ),
        (
            "[pins.env_aliases]\ndev = \"prod\"",
            &[],
            "pins.env_aliases.dev: `dev` is an environment itself",
        ),
        ("[log]\nlevel = \"info,x=notalevel\"", &[], "log.level"),
        ("[server]\nlisten = \"localhost:80\"", &[], "IP:port"),
        ("[server]\nlisten = \"nowhere\"", &[], "server.listen"),
        ("[queue]\nmax_attempts = 0", &[], "queue.max_attempts"),
        (
            "[queue]\njob_timeout = \"500ms\"",
            &[],
            "queue.job_timeout: `500ms` is out of range: must be between 1s and 1day",
        ),
        ("[queue]\njob_timeout = \"2days\"", &[], "queue.job_timeout"),
        ("[queue]\njob_timeout = \"a while\"", &[], "a while"),
        (
            "",
            &[("CHARTPILOT__QUEUE__MAX_DELIVERIES", "0")],
            "queue.max_deliveries: must be at least 1",
        ),
        ("[queue]\nkind = \"kafka\"", &[], "kafka"),
        (
            "[queue]\nkind = \"amqp\"\nurl = \"http://x\"",
            &[],
            "queue.url",
        ),
        (
            "[queue]\nkind = \"amqp\"\nurl = \"amqp://a/, http://b/\"",
            &[],
            "queue.url: must start with amqp:// or amqps:// (each URL",
        ),
        (
            "[queue]\nlanes = 0",
            &[],
            "queue.lanes: must be between 1 and 256",
        ),
        ("[queue]\nretry_delays = [\"soon\"]", &[], "soon"),
        ("[policy]\nsoak = \"forever\"", &[], "forever"),
        (
            "[policy]\nenvironments = [\"dev\", \"dev\"]",
            &[],
            "policy.environments[1]",
        ),
        ("[server]\nlisten_port = 1", &[], "listen_port"),
        (
            "",
            &[("CHARTPILOT__QUEUE__PREFETCH", "0")],
            "queue.prefetch",
        ),
        (
            "",
            &[("CHARTPILOT__SERVER__MAX_BODY_BYTES", "ten")],
            "max_body_bytes",
        ),
        (
            "[server]\nbody_timeout = \"0s\"",
            &[],
            "server.body_timeout",
        ),
        (
            "[server]\nbody_timeout = \"1h\"",
            &[],
            "server.body_timeout",
        ),
        ("[server]\nbody_timeout = \"slow\"", &[], "slow"),
        (
            "[server]\nmax_unauthenticated_bytes = 1048576",
            &[],
            "server.max_unauthenticated_bytes",
        ),
        (
            "[server]\nmax_connections = 0",
            &[],
            "server.max_connections",
        ),
        (
            "[server]\nstatus_auth = \"hunter2\"",
            &[],
            "server.status_auth: expected `bearer:TOKEN`",
        ),
        (
            "",
            &[("CHARTPILOT__SERVER__STATUS_AUTH", "basic:ops")],
            "server.status_auth",
        ),
        (
            "[server]\nstatus_auth = \"bearer:two words\"",
            &[],
            "server.status_auth",
        ),
    ];
    for (text, vars, needle) in cases {
        let e = load_err(text, vars);
        assert!(e.contains(needle), "{text:?} {vars:?}: {e}");
        // A rejected secret is never repeated back.
        assert!(!e.contains("hunter2") && !e.contains("two words"), "{e}");
    }
}

#[test]
fn amqp_url_error_never_shows_the_password() {
    let e = load_err(
        "[queue]\nkind = \"amqp\"\nurl = \"redis://user:hunter2@host\"",
        &[],
    );
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn toml_syntax_error_names_file_and_line() {
    let f = file("[server]\nlisten = \n");
    let e = Settings::load(Some(f.path()), &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains(&f.path().display().to_string()), "{e}");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn explicit_missing_file_is_an_error() {
    let e = Settings::load(Some(Path::new("/nonexistent/c.toml")), &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/c.toml"), "{e}");
}

#[test]
fn policy_ranges_is_leave_or_pin_and_a_typo_names_the_key() {
    let s = Settings::load(None, &HashMap::new()).unwrap();
    assert_eq!(s.policy.ranges, RangePolicy::Leave);
    let f = file("[policy]\nranges = \"pin\"\n");
    let s = Settings::load(Some(f.path()), &HashMap::new()).unwrap();
    assert_eq!(s.policy.ranges, RangePolicy::Pin);
    let s = Settings::load(None, &env(&[("CHARTPILOT__POLICY__RANGES", "pin")])).unwrap();
    assert_eq!(s.policy.ranges, RangePolicy::Pin);
    let e = load_err("[policy]\nranges = \"sometimes\"\n", &[]);
    assert_eq!(e, "policy.ranges: \"sometimes\" is not one of leave, pin");
}

#[test]
fn checks_levels_default_and_refuse_a_typo_and_bad_globs_name_their_key() {
    use super::RuleLevel;
    let s = Settings::load(None, &HashMap::new()).unwrap();
    assert!(s.checks.enabled);
    assert_eq!(
        [
            s.checks.ranges,
            s.checks.allowed_repositories,
            s.checks.promotion_order,
            s.checks.major_update,
            s.checks.deprecated,
            s.checks.provenance
        ],
        [
            RuleLevel::Error,
            RuleLevel::Error,
            RuleLevel::Error,
            RuleLevel::Warning,
            RuleLevel::Warning,
            RuleLevel::Error
        ]
    );
    assert!(s.policy.allowed_repositories.is_empty() && s.policy.tier1_order.is_empty());
    let f = file("[checks]\nmajor_update = \"off\"\n[policy]\nallowed_repositories = [\"oci://ghcr.io/acme/**\"]\n");
    let s = Settings::load(Some(f.path()), &HashMap::new()).unwrap();
    assert_eq!(s.checks.major_update, RuleLevel::Off);
    assert_eq!(s.policy.allowed_repositories, ["oci://ghcr.io/acme/**"]);
    let s = Settings::load(
        None,
        &env(&[(
            "CHARTPILOT__POLICY__TIER1_ORDER",
            "platform/dev,platform/prod",
        )]),
    )
    .unwrap();
    assert_eq!(s.policy.tier1_order, ["platform/dev", "platform/prod"]);
    let e = load_err("[checks]\nranges = \"fatal\"\n", &[]);
    assert_eq!(
        e,
        "checks.ranges: \"fatal\" is not one of error, warning, off"
    );
    let e = load_err(
        "[policy]\nallowed_repositories = [\"https://x/**\", \"https://y/[\"]\n",
        &[],
    );
    assert!(
        e.starts_with("policy.allowed_repositories[1]: not a glob pattern"),
        "{e}"
    );
}

#[test]
fn policy_kube_version_is_empty_or_a_version() {
    let s = Settings::load(None, &HashMap::new()).unwrap();
    assert_eq!(s.policy.kube_version, "");
    for ok in ["1.29.4", "v1.30.2-gke.1043"] {
        let s = Settings::load(None, &env(&[("CHARTPILOT__POLICY__KUBE_VERSION", ok)])).unwrap();
        assert_eq!(s.policy.kube_version, ok);
    }
    let e = load_err("[policy]\nkube_version = \"1.29\"\n", &[]);
    assert!(
        e.starts_with("policy.kube_version: `1.29` is not a Kubernetes version (e.g. \"1.29.4\")"),
        "{e}"
    );
}

const TWO_REPOSITORIES: &str = r#"
[github]
token = "top-token"

[policy]
soak = "1h"
environments = ["dev", "staging", "prod"]

[[repositories]]
repository = "Acme/Platform"
branch = "trunk"

[[repositories]]
repository = "acme/apps"
policy = { soak = "10m" }
github = { token = "apps-token", api_url = "http://127.0.0.1:1" }
argocd = { mode = "kube" }
"#;

#[test]
fn each_repository_gets_its_own_settings_inheriting_what_it_leaves_out() {
    let s = Settings::load(Some(file(TWO_REPOSITORIES).path()), &env(&[])).unwrap();
    assert!(s.serves_many());
    let c = s.contexts();
    let keys: Vec<String> = c.iter().map(|c| c.git.key()).collect();
    assert_eq!(keys, ["acme/platform", "acme/apps"]);
    assert_eq!(c[0].git.branch, "trunk");
    assert_eq!(c[1].git.branch, "main", "git.branch inherited");
    assert_eq!(c[0].policy.soak, std::time::Duration::from_secs(3600));
    assert_eq!(c[1].policy.soak, std::time::Duration::from_secs(600));
    assert_eq!(
        c[1].policy.environments, c[0].policy.environments,
        "keys an override leaves out are inherited"
    );
    assert_eq!(c[0].github.token.expose(), "top-token");
    assert_eq!(c[1].github.token.expose(), "apps-token");
    assert_eq!(c[1].github.api_url, "http://127.0.0.1:1");
    assert_eq!(c[0].argocd.mode, ArgocdMode::None);
    assert_eq!(c[1].argocd.mode, ArgocdMode::Kube);
    assert!(c.iter().all(|c| c.repositories.is_empty()));

    // Without [[repositories]], [git] is the one repository.
    let one = Settings::load(Some(file("").path()), &env(&[])).unwrap();
    assert!(!one.serves_many());
    assert_eq!(one.contexts().len(), 1);
    assert_eq!(one.contexts()[0].git.key(), one.git.key());
}

#[test]
fn a_bad_repository_entry_is_named_by_its_place() {
    let base = "[github]\ntoken = \"t\"\n";
    let cases = [
        (
            "[[repositories]]\nrepository = \"acme/a\"\n[[repositories]]\nrepository = \"nope\"\n",
            "repositories[1].repository: `nope` is not owner/name",
        ),
        (
            "[[repositories]]\nrepository = \"acme/a\"\n[[repositories]]\nrepository = \"ACME/a\"\n",
            "repositories[1]: `ACME/a` is listed twice (also repositories[0])",
        ),
        (
            "[[repositories]]\nrepository = \"acme/a\"\npolicy = { soak = \"forever\" }\n",
            "forever",
        ),
        (
            "[[repositories]]\nrepository = \"acme/a\"\ngithub = { webhook_secret = \"x\" }\n",
            "repositories[0].github.webhook_secret: is the same for every repository",
        ),
        (
            "[[repositories]]\nrepository = \"acme/a\"\nflavour = \"x\"\n",
            "flavour",
        ),
        (
            "[[repositories]]\nrepository = \"acme/a\"\nargocd = { mode = \"api\" }\n",
            "repositories[0].argocd",
        ),
    ];
    for (text, want) in cases {
        let e = load_err(&format!("{base}{text}"), &[]);
        assert!(e.contains(want), "{text}\n→ {e}\nwanted: {want}");
    }
}

#[test]
fn discovery_takes_a_github_app_and_gives_each_repository_the_top_level() {
    let key = file("not read at load");
    let app = format!(
        "[github]\napp_id = 7\nprivate_key_file = \"{}\"\n[policy]\nsoak = \"20m\"\n",
        key.path().display()
    );
    let s = Settings::load(
        Some(
            file(&format!(
                "{app}[repositories]\ndiscover = true\nexclude = [\"acme/sandbox-*\"]\n"
            ))
            .path(),
        ),
        &env(&[]),
    )
    .unwrap();
    assert!(s.discovers() && s.serves_many());
    let d = s.discovered("Acme/Apps", "trunk").unwrap();
    assert_eq!(d.git.key(), "acme/apps");
    assert_eq!(d.git.branch, "trunk");
    assert_eq!(d.policy.soak, std::time::Duration::from_secs(1200));
    assert!(!d.discovers() && !d.serves_many());
    assert!(s.discovered("not-a-repository", "main").is_err());

    // The environment turns it on as well.
    let s = Settings::load(
        Some(file(&app).path()),
        &env(&[
            ("CHARTPILOT__REPOSITORIES__DISCOVER", "true"),
            ("CHARTPILOT__REPOSITORIES__EXCLUDE", "acme/a-*,acme/b"),
        ]),
    )
    .unwrap();
    assert!(s.discovers());
    assert_eq!(
        s.repositories.discovery.as_ref().unwrap().exclude,
        ["acme/a-*", "acme/b"]
    );
    // `discover = false` is the one repository of `[git]`.
    let off = Settings::load(
        Some(file("[repositories]\ndiscover = false\n").path()),
        &env(&[]),
    )
    .unwrap();
    assert!(!off.discovers() && !off.serves_many());

    let cases = [
        (
            "[github]\ntoken = \"t\"\n[repositories]\ndiscover = true\n".to_owned(),
            "repositories.discover: needs a GitHub App",
        ),
        (
            format!("{app}[repositories]\ndiscover = true\nexclude = [\"acme/[x\"]\n"),
            "repositories.exclude[0]: not a glob pattern",
        ),
        (
            format!("{app}[repositories]\ndiscover = true\nexclud = []\n"),
            "repositories.exclud: unknown key; expected one of discover, exclude",
        ),
    ];
    for (text, want) in cases {
        let e = load_err(&text, &[]);
        assert!(e.contains(want), "{text}\n→ {e}\nwanted: {want}");
    }
}
