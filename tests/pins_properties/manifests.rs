//! Generated Argo CD Applications and Helm chart dependencies, with decoys
//! that carry versions but are no pins.

use chartpilot::pins::PinKind;

use super::input::{Case, Dice, Input, Out, Owner};
use super::yaml::{self, pin, quoted, s, Y};

const CHARTS: [&str; 4] = ["argo-cd", "cert-manager", "ingress-nginx", "app"];

/// One or two files of one to three Applications or ApplicationSets, and
/// sometimes a ConfigMap or AppProject that is not one.
pub fn argocd_repo(input: &Input) -> Case {
    let mut d = Dice::new(input);
    let mut case = Case::default();
    let mut next_app = 0;
    for f in 0..1 + d.below(2) {
        let ext = if d.one_in(2) { "yml" } else { "yaml" };
        let mut out = Out::new(&format!("apps/set{f}/apps.{ext}"), &mut d);
        let mut documents = Vec::new();
        for _ in 0..1 + d.below(3) {
            documents.push(if d.one_in(3) {
                application_set(&mut d, next_app)
            } else {
                application(&mut d, next_app)
            });
            next_app += 1;
        }
        if d.one_in(2) {
            documents.push(decoy(&mut d));
        }
        let documents = d
            .shuffled(&(0..documents.len()).collect::<Vec<_>>())
            .into_iter()
            .map(|i| std::mem::take(&mut documents[i]))
            .collect::<Vec<_>>();
        yaml::file(&mut out, &mut d, &documents);
        case.add(out.finish(&mut d));
    }
    case
}

fn application(d: &mut Dice, n: usize) -> Vec<(&'static str, Y)> {
    let chart = CHARTS[d.below(CHARTS.len())];
    let name = format!("{chart}-{n}");
    let mut metadata = vec![("name", s(&name)), ("namespace", s("argocd"))];
    if d.one_in(2) {
        metadata.push(("labels", Y::Map(vec![("team", s("platform"))])));
    }
    let mut spec = vec![
        ("project", s("default")),
        (
            "destination",
            Y::Map(vec![
                ("server", s("https://kubernetes.default.svc")),
                ("namespace", s(chart)),
            ]),
        ),
    ];
    if d.one_in(3) {
        let mut sources = vec![chart_source(d, &name, chart)];
        if d.one_in(2) {
            let other = CHARTS[d.below(CHARTS.len())];
            sources.push(chart_source(d, &name, other));
        }
        // Git and `ref:` sources have a targetRevision but no chart.
        sources.push(Y::Map(vec![
            ("repoURL", s("https://github.com/example/platform.git")),
            ("path", s(&format!("apps/{name}"))),
            ("targetRevision", s("v9.9.9")),
        ]));
        sources.push(Y::Map(vec![
            ("repoURL", s("https://github.com/example/values.git")),
            ("targetRevision", s("main")),
            ("ref", s("values")),
        ]));
        let order = d.shuffled(&(0..sources.len()).collect::<Vec<_>>());
        let sources = order
            .into_iter()
            .map(|i| std::mem::replace(&mut sources[i], s("")))
            .collect();
        spec.push(("sources", Y::Seq(sources)));
    } else {
        spec.push(("source", chart_source(d, &name, chart)));
    }
    if d.one_in(2) {
        spec.push((
            "syncPolicy",
            Y::Map(vec![
                (
                    "automated",
                    Y::Map(vec![("prune", s("true")), ("selfHeal", s("true"))]),
                ),
                ("syncOptions", Y::Seq(vec![s("CreateNamespace=true")])),
            ]),
        ));
    }
    vec![
        ("apiVersion", s("argoproj.io/v1alpha1")),
        ("kind", s("Application")),
        ("metadata", Y::Map(metadata)),
        ("spec", Y::Map(spec)),
    ]
}

/// A list generator whose elements each set the version the template's
/// `targetRevision` names: one pin per element's literal.
fn application_set(d: &mut Dice, n: usize) -> Vec<(&'static str, Y)> {
    let name = format!("addons-{n}");
    let chart = CHARTS[d.below(CHARTS.len())];
    let repository = "https://charts.example.com";
    let owner = Owner {
        kind: PinKind::Argocd,
        name: name.clone(),
        chart: Some(chart.to_owned()),
        repository: Some(repository.to_owned()),
    };
    let nested = d.one_in(2);
    let mut elements = Vec::new();
    for env in &["dev", "staging", "prod"][..1 + d.below(3)] {
        let version = pin(d.version(), &owner);
        let version = if nested {
            ("values", Y::Map(vec![("version", version)]))
        } else {
            ("version", version)
        };
        elements.push(Y::Map(vec![("env", s(env)), version]));
    }
    let param = if nested { "values.version" } else { "version" };
    let reference = match d.below(3) {
        0 => format!("{{{{{param}}}}}"),
        1 => format!("{{{{.{param}}}}}"),
        _ => format!("{{{{ .{param} }}}}"),
    };
    let source = vec![
        ("repoURL", s(repository)),
        ("chart", s(chart)),
        ("targetRevision", quoted(&reference)),
    ];
    let template = vec![
        (
            "metadata",
            Y::Map(vec![("name", quoted(&format!("{{{{env}}}}-{chart}")))]),
        ),
        (
            "spec",
            Y::Map(vec![
                ("project", s("default")),
                ("source", Y::Map(source)),
                (
                    "destination",
                    Y::Map(vec![
                        ("server", s("https://kubernetes.default.svc")),
                        ("namespace", s(chart)),
                    ]),
                ),
            ]),
        ),
    ];
    let list = Y::Map(vec![("elements", Y::Seq(elements))]);
    vec![
        ("apiVersion", s("argoproj.io/v1alpha1")),
        ("kind", s("ApplicationSet")),
        ("metadata", Y::Map(vec![("name", s(&name))])),
        (
            "spec",
            Y::Map(vec![
                ("generators", Y::Seq(vec![Y::Map(vec![("list", list)])])),
                ("template", Y::Map(template)),
            ]),
        ),
    ]
}

fn chart_source(d: &mut Dice, app: &str, chart: &str) -> Y {
    let repository = match d.below(3) {
        0 => format!("https://charts.example.com/{chart}"),
        1 => "registry.example.com/charts".to_owned(),
        _ => "oci://registry.example.com/charts".to_owned(),
    };
    let owner = Owner {
        kind: PinKind::Argocd,
        name: app.to_owned(),
        chart: Some(chart.to_owned()),
        repository: Some(repository.clone()),
    };
    let mut source = vec![
        ("repoURL", s(&repository)),
        ("chart", s(chart)),
        ("targetRevision", pin(d.version(), &owner)),
    ];
    if d.one_in(2) {
        source.push((
            "helm",
            Y::Map(vec![
                ("releaseName", s(chart)),
                (
                    "values",
                    Y::Block(vec!["targetRevision: 9.9.9", "image:", "  tag: v1.0.0"]),
                ),
            ]),
        ));
    }
    Y::Map(source)
}

/// Documents beside the Applications that are not chart pins.
fn decoy(d: &mut Dice) -> Vec<(&'static str, Y)> {
    if d.one_in(2) {
        vec![
            ("apiVersion", s("argoproj.io/v1alpha1")),
            ("kind", s("AppProject")),
            ("metadata", Y::Map(vec![("name", s("platform"))])),
            (
                "spec",
                Y::Map(vec![("sourceRepos", Y::Seq(vec![quoted("*")]))]),
            ),
        ]
    } else {
        vec![
            ("apiVersion", s("v1")),
            ("kind", s("ConfigMap")),
            ("metadata", Y::Map(vec![("name", s("decoy"))])),
            (
                "data",
                Y::Map(vec![("chart", s("app")), ("targetRevision", s("9.9.9"))]),
            ),
        ]
    }
}

/// A `Chart.yaml` and sometimes a Helm 2 `requirements.yaml`, whose
/// dependencies are the pins; the chart's own version is not one.
pub fn chart_repo(input: &Input) -> Case {
    let mut d = Dice::new(input);
    let mut case = Case::default();
    let mut next_dep = 0;
    let mut deps = |d: &mut Dice| {
        let mut list = Vec::new();
        for _ in 0..1 + d.below(3) {
            list.push(dependency(d, next_dep));
            next_dep += 1;
        }
        if d.one_in(3) {
            // A chart on disk is listed too (marked local by the walk).
            let local = Owner {
                kind: PinKind::ChartDependency,
                name: "local".to_owned(),
                chart: Some("local".to_owned()),
                repository: Some("file://../local".to_owned()),
            };
            list.push(Y::Map(vec![
                ("name", s("local")),
                ("version", pin("0.1.0".to_owned(), &local)),
                ("repository", s("file://../local")),
            ]));
        }
        Y::Seq(list)
    };
    let mut out = Out::new("charts/umbrella/Chart.yaml", &mut d);
    let chart = vec![
        ("apiVersion", s("v2")),
        ("name", s("umbrella")),
        ("description", s("An umbrella chart — Ünïcödé ✓ 🚀")),
        ("type", s("application")),
        ("version", s("0.1.0")),
        ("appVersion", s("1.16.0")),
        ("dependencies", deps(&mut d)),
    ];
    yaml::file(&mut out, &mut d, &[chart]);
    case.add(out.finish(&mut d));
    if d.one_in(2) {
        let mut out = Out::new("charts/legacy/requirements.yaml", &mut d);
        let requirements = vec![("dependencies", deps(&mut d))];
        yaml::file(&mut out, &mut d, &[requirements]);
        case.add(out.finish(&mut d));
    }
    case
}

fn dependency(d: &mut Dice, n: usize) -> Y {
    let name = format!("{}{n}", CHARTS[d.below(CHARTS.len())]);
    let repository = match d.below(4) {
        0 => Some("https://charts.example.com"),
        1 => Some("oci://registry.example.com/charts"),
        2 => Some("@stable"),
        _ => None,
    };
    let owner = Owner {
        kind: PinKind::ChartDependency,
        name: name.clone(),
        chart: Some(name.clone()),
        repository: repository.map(str::to_owned),
    };
    let mut entry = vec![("name", s(&name)), ("version", pin(d.version(), &owner))];
    match repository {
        Some(r) if r.starts_with('@') => entry.push(("repository", quoted(r))),
        Some(r) => entry.push(("repository", s(r))),
        None => {}
    }
    if d.one_in(2) {
        entry.push(("condition", s(&format!("{name}.enabled"))));
    }
    if d.one_in(3) {
        entry.push(("tags", Y::Seq(vec![s("infra"), s("core")])));
    }
    Y::Map(entry)
}
