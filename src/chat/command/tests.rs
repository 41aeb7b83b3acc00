use super::*;

fn vocab() -> Vocabulary {
    Vocabulary {
        environments: vec!["dev".into(), "staging".into(), "prod".into()],
        apps: vec![
            "frontend-app".into(),
            "jupyterhub".into(),
            "cert-manager".into(),
        ],
        charts: vec![
            "cert-manager".into(),
            "ingress-nginx".into(),
            "podinfo".into(),
        ],
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

#[test]
fn each_line_parses_to_a_command_or_an_exact_error() {
    let ok: Vec<(&str, Command)> = vec![
        ("help", Command::Help),
        ("/chartpilot help", Command::Help),
        ("HELP", Command::Help),
        (
            "status jupyterhub prod",
            Command::Status {
                app: s("jupyterhub"),
                env: Some(s("prod")),
            },
        ),
        (
            "status jupyterhub",
            Command::Status {
                app: s("jupyterhub"),
                env: None,
            },
        ),
        (
            "  sync   frontend-app   dev ",
            Command::Sync {
                app: s("frontend-app"),
                env: Some(s("dev")),
            },
        ),
        (
            "/chartpilot rollback frontend-app prod",
            Command::Rollback {
                app: s("frontend-app"),
                env: Some(s("prod")),
            },
        ),
        (
            "upgrade cert-manager to v1.13.3 dev",
            Command::Upgrade {
                chart: s("cert-manager"),
                version: Some(s("v1.13.3")),
                env: Some(s("dev")),
            },
        ),
        (
            "upgrade podinfo",
            Command::Upgrade {
                chart: s("podinfo"),
                version: None,
                env: None,
            },
        ),
        (
            "upgrade podinfo staging",
            Command::Upgrade {
                chart: s("podinfo"),
                version: None,
                env: Some(s("staging")),
            },
        ),
        (
            "promote ingress-nginx dev staging",
            Command::Promote {
                chart: s("ingress-nginx"),
                from: s("dev"),
                to: s("staging"),
            },
        ),
        (
            "freeze prod change freeze for quarter-end (Ünïcode ✓)",
            Command::Freeze {
                env: s("prod"),
                reason: Some(s("change freeze for quarter-end (Ünïcode ✓)")),
            },
        ),
        (
            "freeze prod \"release week\"",
            Command::Freeze {
                env: s("prod"),
                reason: Some(s("release week")),
            },
        ),
        (
            "freeze prod “smart quotes, too”",
            Command::Freeze {
                env: s("prod"),
                reason: Some(s("smart quotes, too")),
            },
        ),
        (
            "freeze dev",
            Command::Freeze {
                env: s("dev"),
                reason: None,
            },
        ),
        ("unfreeze prod", Command::Unfreeze { env: s("prod") }),
        (
            "confirm K7Q2-9XPM",
            Command::Confirm {
                code: s("K7Q2-9XPM"),
            },
        ),
        (
            "status 'jupyterhub' \"prod\"",
            Command::Status {
                app: s("jupyterhub"),
                env: Some(s("prod")),
            },
        ),
    ];
    for (line, want) in ok {
        assert_eq!(parse(line, &vocab()), Ok(want.clone()), "{line}");
        // The canonical spelling parses back to the same command.
        assert_eq!(parse(&want.to_string(), &vocab()), Ok(want), "{line}");
    }

    let bad: Vec<(&str, &str)> = vec![
        ("", "no command given; try `/chartpilot help`"),
        ("/chartpilot", "no command given; try `/chartpilot help`"),
        ("rolback frontend-app prod", "unknown command `rolback`; did you mean `rollback`?"),
        ("stauts jupyterhub", "unknown command `stauts`; did you mean `status`?"),
        ("deploy everything", "unknown command `deploy`; try `/chartpilot help`"),
        ("rollback", "`rollback` needs an app: `/chartpilot rollback <app> [env]`"),
        ("promote podinfo dev", "`promote` needs the environment to promote to: `/chartpilot promote <chart> <from-env> <to-env>`"),
        ("upgrade podinfo to", "`upgrade` needs a version after `to`: `/chartpilot upgrade <chart> [to <version>] [env]`"),
        ("confirm", "`confirm` needs the code chartpilot gave: `/chartpilot confirm <code>`"),
        ("sync jupyterhub prod now", "`sync` does not take `now`: `/chartpilot sync <app> [env]`"),
        ("unfreeze prod please", "`unfreeze` does not take `please`: `/chartpilot unfreeze <env>`"),
        ("status grafana", "unknown app `grafana`; valid: cert-manager, frontend-app, jupyterhub"),
        ("sync jupyterhub production", "unknown environment `production`; valid: dev, prod, staging"),
        ("upgrade nginx", "unknown chart `nginx`; valid: cert-manager, ingress-nginx, podinfo"),
        ("freeze prod \"never closed", "a quote is not closed"),
    ];
    for (line, want) in bad {
        let got = parse(line, &vocab()).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_owned()), "{line}");
    }
}

#[test]
fn long_lists_of_valid_names_are_cut() {
    let v = Vocabulary {
        apps: (0..40).map(|i| format!("app-{i:02}")).collect(),
        ..vocab()
    };
    let e = parse("status nope", &v).unwrap_err().to_string();
    assert!(e.ends_with("(and 25 more)"), "{e}");
}

#[test]
fn verbs_and_environments_are_what_authorization_sees() {
    let c = parse("promote podinfo dev prod", &vocab()).unwrap();
    assert_eq!((c.verb(), c.env()), ("promote", Some("prod")));
    let c = parse("status jupyterhub", &vocab()).unwrap();
    assert_eq!((c.verb(), c.env()), ("status", None));
}
