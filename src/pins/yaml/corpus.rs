//! The YAML scanners over real GitOps files (`shared/corpus/gitops`, see
//! its README). Every expected pin was written down by reading the file,
//! not by running the scanner.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::pins::walk::{classify, yaml_kind, YamlKind};
use crate::pins::{argocd, chart_yaml, collect, Pin, PinKind, Scan, SourceFile};

/// A version as written, a range as written, or a fragment of the reason
/// it is unresolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V {
    Is(&'static str),
    Range(&'static str),
    Unresolved(&'static str),
}
use V::{Is, Range, Unresolved};

/// line, name, chart, repository, version, env (as the scanner sets it;
/// the path-based fallback is not the scanners' business).
#[rustfmt::skip]
type Exp = (usize, &'static str, Option<&'static str>, Option<&'static str>, V, Option<&'static str>);

const JETSTACK: Option<&str> = Some("https://charts.jetstack.io");
const ARGO_HELM: Option<&str> = Some("https://argoproj.github.io/argo-helm");
const ECR: Option<&str> = Some("public.ecr.aws");
const BITNAMI: Option<&str> = Some("oci://registry-1.docker.io/bitnamicharts");
const SMALLSTEP: Option<&str> = Some("https://smallstep.github.io/helm-charts");
const CHARTMUSEUM: Option<&str> = Some("http://chartmuseum.chartmuseum.svc.cluster.local:8080");
const REGISTRY_443: Option<&str> = Some("somecontainer.registry.io:443/");
const ESO: Option<&str> = Some("https://charts.external-secrets.io");
const DRONE: Option<&str> = Some("https://charts.drone.io");
const KYVERNO: Option<&str> = Some("https://kyverno.github.io/kyverno/");
const COMMON: Option<&str> = Some("file://../common");

/// Every YAML file of the corpus with the pins it must give. One row per
/// pin reads better than rustfmt's one line per field.
#[rustfmt::skip]
const EXPECTED: &[(&str, &[Exp])] = &[
    ("AlbertVilaCalvo__RecipeManager/kubernetes/argocd-apps/dev/external-secrets-app.yaml", &[(19, "external-secrets", Some("external-secrets"), ESO, Is("2.3.0"), None)]),
    // A git path source.
    ("AlbertVilaCalvo__RecipeManager/kubernetes/argocd-apps/dev/karpenter-nodepool-app.yaml", &[]),
    ("AlbertVilaCalvo__RecipeManager/kubernetes/argocd-apps/prod/external-secrets-app.yaml", &[(19, "external-secrets", Some("external-secrets"), ESO, Is("2.3.0"), None)]),
    // Git path source; the stray top-level `template:` is not a source.
    ("Azure-Samples__aks-platform-engineering/gitops/apps/myapp/AKSStoreDemoArgoApp.yaml", &[]),
    ("Azure-Samples__aks-platform-engineering/gitops/bootstrap/control-plane/addons/azure/addons-cert-manager-appset.yaml", &[
        (17, "addons-cert-manager", Some("cert-manager"), JETSTACK, Is("v1.16.4"), None),
        (29, "addons-cert-manager", Some("cert-manager"), JETSTACK, Is("v1.16.4"), Some("staging")),
        (35, "addons-cert-manager", Some("cert-manager"), JETSTACK, Is("v1.16.4"), Some("prod")),
    ]),
    // Every generator takes the version from a cluster label set by Terraform.
    ("Azure-Samples__aks-platform-engineering/gitops/bootstrap/control-plane/addons/oss/addons-argo-cd-appset.yaml", &[
        (48, "addons-argocd", Some("argo-cd"), ARGO_HELM, Unresolved("{{metadata.labels.argocd_chart_version}}"), None),
    ]),
    ("Azure-Samples__aks-platform-engineering/gitops/bootstrap/control-plane/addons/oss/addons-kargo-appset.yaml", &[
        (48, "addons-kargo", Some("kargo"), Some("ghcr.io/akuity/kargo-charts"), Unresolved("{{metadata.labels.kargo_chart_version}}"), None),
    ]),
    // Helm values, not routed to a scanner.
    ("Azure-Samples__aks-platform-engineering/gitops/environments/default/addons/kargo/values.yaml", &[]),
    // `common` is the chart's own library, from disk, any version.
    ("ADORSYS-GIS__ai-helm/charts/apps/Chart.yaml", &[(28, "common", Some("common"), COMMON, Range("*"), None)]),
    // The alias names the dependency; both are on disk.
    ("ADORSYS-GIS__ai-helm/charts/inference-server/Chart.yaml", &[
        (55, "modelServing", Some("bjw-template"), Some("file://../bjw-template"), Is("4.6.2"), None),
        (59, "common", Some("common"), COMMON, Range("*"), None),
    ]),
    // Git path sources only; `cluster/apps/` holds apps, not environments.
    ("NorskHelsenett__gitOps/cluster/app-of-apps.yml", &[]),
    // Two documents, each with a chart source beside a git path source.
    ("NorskHelsenett__gitOps/cluster/apps/drone/application.yml", &[
        (15, "drone", Some("drone"), DRONE, Is("0.6.4"), None),
        (76, "drone-runner", Some("drone-runner-kube"), DRONE, Is("0.1.10"), None),
    ]),
    ("NorskHelsenett__gitOps/cluster/apps/extras/applications.yml", &[]),
    // `8.x`: Argo CD takes the newest 8.y.z.
    ("NorskHelsenett__gitOps/cluster/apps/gitea/application.yml", &[(14, "gitea", Some("gitea"), Some("https://dl.gitea.io/charts"), Range("8.x"), None)]),
    ("NorskHelsenett__gitOps/cluster/extras/kyverno/application.yml", &[
        (15, "kyverno", Some("kyverno"), KYVERNO, Range("2.7.*"), None),
        (18, "kyverno", Some("kyverno-policies"), KYVERNO, Is("2.7.2"), None),
    ]),
    ("Obmondo__kubeaid/argocd-helm-charts/argo-cd/Chart.yaml", &[(10, "argo-cd", Some("argo-cd"), ARGO_HELM, Is("9.0.3"), None)]),
    ("Obmondo__kubeaid/argocd-helm-charts/cert-manager/Chart.yaml", &[(7, "cert-manager", Some("cert-manager"), JETSTACK, Is("v1.19.1"), None)]),
    // Git path source with `<placeholders>`.
    ("Obmondo__kubeaid/argocd-helm-charts/cert-manager/examples/cert-manager.yaml", &[]),
    ("Obmondo__kubeaid/argocd-helm-charts/gitea/Chart.yaml", &[(6, "gitea", Some("gitea"), Some("https://dl.gitea.com/charts/"), Is("12.4.0"), None)]),
    // Vendored subchart: the walk skips it, the scanner itself reads it.
    ("Obmondo__kubeaid/argocd-helm-charts/gitea/charts/gitea/Chart.yaml", &[
        (19, "postgresql", Some("postgresql"), BITNAMI, Is("16.7.27"), None),
        (23, "postgresql-ha", Some("postgresql-ha"), BITNAMI, Is("16.3.2"), None),
        (27, "valkey-cluster", Some("valkey-cluster"), BITNAMI, Is("3.0.24"), None),
        (31, "valkey", Some("valkey"), BITNAMI, Is("3.0.31"), None),
    ]),
    ("Obmondo__kubeaid/argocd-helm-charts/step-ca/Chart.yaml", &[
        (6, "step-issuer", Some("step-issuer"), SMALLSTEP, Is("1.9.9"), None),
        (9, "step-certificates", Some("step-certificates"), SMALLSTEP, Is("1.28.4"), None),
        (12, "autocert", Some("autocert"), SMALLSTEP, Is("1.20.2"), None),
        (16, "trust-manager", Some("trust-manager"), JETSTACK, Is("v0.20.2"), None),
    ]),
    ("Obmondo__kubeaid/argocd-helm-charts/traefik/Chart.yaml", &[(6, "traefik", Some("traefik"), Some("https://helm.traefik.io/traefik"), Is("37.1.2"), None)]),
    // Argo CD ignores `source` when `sources` lists any; the one listed is git.
    ("argoproj__argo-cd/docs/operator-manual/application.yaml", &[]),
    // No dependencies (they are in requirements.yaml).
    ("argoproj__argo-cd/applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator/Chart.yaml", &[]),
    ("argoproj__argo-cd/applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator/requirements.yaml", &[
        (3, "kube-prometheus-stack", Some("kube-prometheus-stack"), Some("https://prometheus-community.github.io/helm-charts"), Is("40.5.0"), None),
    ]),
    // Generator input without `argoproj.io`: not routed to a scanner.
    ("argoproj__argo-cd/applicationset/examples/list-generator/list-elementsYaml-example.yaml", &[]),
    ("gitops-bridge-dev__gitops-bridge-argocd-control-plane-template/bootstrap/control-plane/addons/aws/ack/addons-aws-ack-s3-appset.yaml", &[
        (19, "addons-aws-ack-s3-appset", Some("aws-controllers-k8s/s3-chart"), ECR, Is("1.0.9"), None),
        (36, "addons-aws-ack-s3-appset", Some("aws-controllers-k8s/s3-chart"), ECR, Is("1.0.9"), Some("staging")),
        (42, "addons-aws-ack-s3-appset", Some("aws-controllers-k8s/s3-chart"), ECR, Is("1.0.9"), Some("prod")),
    ]),
    ("gitops-bridge-dev__gitops-bridge-argocd-control-plane-template/bootstrap/control-plane/addons/aws/addons-aws-oss-karpenter-appset.yaml", &[
        (18, "addons-aws-karpenter", Some("karpenter/karpenter"), ECR, Is("v0.34.1"), None),
        (35, "addons-aws-karpenter", Some("karpenter/karpenter"), ECR, Is("v0.34.1"), Some("staging")),
        (41, "addons-aws-karpenter", Some("karpenter/karpenter"), ECR, Is("v0.34.1"), Some("prod")),
    ]),
    ("gitops-bridge-dev__gitops-bridge-argocd-control-plane-template/bootstrap/control-plane/addons/oss/addons-argo-cd-appset.yaml", &[
        (17, "addons-argocd", Some("argo-cd"), ARGO_HELM, Is("6.6.0"), None),
        (33, "addons-argocd", Some("argo-cd"), ARGO_HELM, Is("6.6.0"), Some("staging")),
        (39, "addons-argocd", Some("argo-cd"), ARGO_HELM, Is("6.6.0"), Some("prod")),
    ]),
    ("gitops-bridge-dev__gitops-bridge-argocd-control-plane-template/bootstrap/control-plane/addons/oss/addons-cert-manager-appset.yaml", &[
        (17, "addons-cert-manager", Some("cert-manager"), JETSTACK, Is("v1.14.3"), None),
        (34, "addons-cert-manager", Some("cert-manager"), JETSTACK, Is("v1.14.3"), Some("staging")),
        (40, "addons-cert-manager", Some("cert-manager"), JETSTACK, Is("v1.14.3"), Some("prod")),
    ]),
    // Go-template syntax: `{{.values.addonChartVersion}}`.
    ("gitops-bridge-dev__gitops-bridge-argocd-control-plane-template/bootstrap/control-plane/addons/oss/addons-ingress-nginx-appset.yaml", &[
        (18, "addons-ingress-nginx", Some("ingress-nginx"), Some("https://kubernetes.github.io/ingress-nginx"), Is("4.10.0"), None),
        (33, "addons-ingress-nginx", Some("ingress-nginx"), Some("https://kubernetes.github.io/ingress-nginx"), Is("4.10.0"), Some("staging")),
        (39, "addons-ingress-nginx", Some("ingress-nginx"), Some("https://kubernetes.github.io/ingress-nginx"), Is("4.10.0"), Some("prod")),
    ]),
    ("gitops-bridge-dev__gitops-bridge-argocd-control-plane-template/bootstrap/control-plane/addons/oss/addons-kube-prometheus-stack-appset.yaml", &[
        (17, "addons-kube-prometheus-stack", Some("kube-prometheus-stack"), Some("https://prometheus-community.github.io/helm-charts"), Is("56.21.0"), None),
        (32, "addons-kube-prometheus-stack", Some("kube-prometheus-stack"), Some("https://prometheus-community.github.io/helm-charts"), Is("56.21.0"), Some("staging")),
        (38, "addons-kube-prometheus-stack", Some("kube-prometheus-stack"), Some("https://prometheus-community.github.io/helm-charts"), Is("56.21.0"), Some("prod")),
    ]),
    ("gitops-bridge-dev__gitops-bridge-argocd-control-plane-template/environments/default/addons/cert-manager/values.yaml", &[]),
    ("kubefirst__gitops-template/google-github/registry/environments/development/metaphor/Chart.yaml", &[(5, "metaphor", Some("metaphor"), CHARTMUSEUM, Is("0.0.1-rc.awaiting-ci"), None)]),
    // Points at the umbrella chart folder by git path.
    ("kubefirst__gitops-template/google-github/registry/environments/production/metaphor.yaml", &[]),
    ("kubefirst__gitops-template/google-github/registry/environments/production/metaphor/Chart.yaml", &[(5, "metaphor", Some("metaphor"), CHARTMUSEUM, Is("0.0.1-rc.awaiting-ci"), None)]),
    ("kubefirst__gitops-template/google-github/registry/environments/staging/metaphor/Chart.yaml", &[(5, "metaphor", Some("metaphor"), CHARTMUSEUM, Is("0.0.1-rc.awaiting-ci"), None)]),
    // `chart:` comes after a long `helm.values` block.
    ("kubefirst__gitops-template/google-github/templates/mgmt/components/argo-workflows/application.yaml", &[(12, "argo", Some("argo-workflows"), ARGO_HELM, Is("0.20.1"), None)]),
    ("kubefirst__gitops-template/google-github/templates/mgmt/components/cert-manager/application.yaml", &[(12, "cert-manager", Some("cert-manager"), JETSTACK, Is("v1.14.4"), None)]),
    ("kubefirst__gitops-template/google-github/templates/mgmt/components/external-secrets-operator/external-secrets-operator.yaml", &[(12, "external-secrets-operator", Some("external-secrets"), ESO, Is("0.8.1"), None)]),
    ("kubefirst__gitops-template/google-github/templates/mgmt/components/ingress-nginx/application.yaml", &[(14, "ingress-nginx", Some("ingress-nginx"), Some("https://kubernetes.github.io/ingress-nginx"), Is("4.10.0"), None)]),
    ("kubefirst__gitops-template/google-github/templates/mgmt/components/vault/application.yaml", &[(12, "vault", Some("vault"), Some("https://helm.releases.hashicorp.com"), Is("0.25.0"), None)]),
    ("kubefirst__gitops-template/google-github/templates/workload-cluster/30-cert-manager.yaml", &[(14, "<WORKLOAD_CLUSTER_NAME>-cert-manager", Some("cert-manager"), JETSTACK, Is("v1.14.4"), None)]),
    // Four documents without a source: warnings only.
    ("renovatebot__renovate/lib/modules/manager/argocd/__fixtures__/malformedApplications.yml", &[]),
    // No metadata.name anywhere in Renovate's fixtures.
    ("renovatebot__renovate/lib/modules/manager/argocd/__fixtures__/validApplication.yml", &[
        (8, "", Some("kube-state-metrics"), Some("https://prometheus-community.github.io/helm-charts"), Is("2.4.1"), None),
        (17, "", None, None, Unresolved("chart `{{ .Values.chart }}`"), None),
        (31, "", Some("traefik"), Some("gs://helm-charts-internal"), Is("0.0.2"), None),
        (59, "", Some("some/image"), Some("somecontainer.registry.io"), Is("1.2.0"), None),
        (67, "", Some("some/image2"), Some("oci://somecontainer.registry.io"), Is("1.3.0"), None),
        (75, "", Some("some/image2"), Some("somecontainer.registry.io:443"), Is("1.3.0"), None),
        (83, "", Some("some/image3"), REGISTRY_443, Is("1.0.0"), None),
        (91, "", Some("some/image3"), REGISTRY_443, Is("1.0.0"), None),
        (104, "", Some("some/image3"), REGISTRY_443, Is("1.0.0"), None),
        (117, "", Some("traefik"), Some("gs://helm-charts-internal"), Is("0.0.2"), None),
        (133, "", Some("somechart"), Some("https://foo.io/repo"), Is("0.0.2"), None),
    ]),
    ("renovatebot__renovate/lib/modules/manager/argocd/__fixtures__/validApplicationSet.yml", &[
        (10, "", Some("kube-state-metrics"), Some("https://prometheus-community.github.io/helm-charts"), Is("2.4.1"), None),
        (21, "", None, None, Unresolved("chart `{{ .Values.chart }}`"), None),
        (37, "", Some("traefik"), Some("https://helm.traefik.io/traefik"), Is("10.14.2"), None),
        (71, "podinfo", Some("podinfo"), Some("https://stefanprodan.github.io/podinfo"), Is("6.0.0"), None),
        (92, "podinfo", Some("some/image3"), REGISTRY_443, Is("1.0.0"), None),
        (115, "podinfo", Some("some/image3"), REGISTRY_443, Is("1.0.0"), None),
        (139, "podinfo", Some("somechart"), Some("https://foo.io/repo"), Is("0.0.2"), None),
    ]),
    ("renovatebot__renovate/lib/modules/manager/helmv3/__fixtures__/Chart.yaml", &[
        (7, "renovate-test", Some("renovate-test"), Some("oci://registry.gitlab.com/user/oci-helm-test"), Is("0.1.0"), None),
        (12, "repo-test", Some("repo-test"), Some("https://gitlab.com/api/v4/projects/xxxxxxx/packages/helm/stable"), Is("0.1.0"), None),
        // No repository.
        (15, "cert-manager", Some("cert-manager"), None, Is("v1.7.1"), None),
        // From disk: listed, marked local.
        (17, "dask", Some("dask"), Some("file://../dependency_chart/dask"), Is("2.2.2"), None),
    ]),
    // Not named Chart.yaml, but shaped like one: routed by content.
    ("renovatebot__renovate/lib/modules/manager/helmv3/__fixtures__/ChartECR.yaml", &[
        (6, "some-ecr-chart", Some("some-ecr-chart"), Some("oci://123456789.dkr.ecr.us-east-1.amazonaws.com"), Is("1.2.3"), None),
    ]),
    // A local chart's own Chart.yaml, without dependencies.
    ("thoughtbot__flightdeck/aws/platform/modules/load-balancer-controller/target-group-binding/Chart.yaml", &[]),
];

/// Files with warnings, and their lines.
#[rustfmt::skip]
const EXPECTED_WARNINGS: &[(&str, &[usize])] = &[
    ("renovatebot__renovate/lib/modules/manager/argocd/__fixtures__/malformedApplications.yml", &[3, 10, 14, 20]),
    // The `{{- if }}` document, then the one without a source.
    ("renovatebot__renovate/lib/modules/manager/argocd/__fixtures__/validApplication.yml", &[138, 47]),
    ("renovatebot__renovate/lib/modules/manager/argocd/__fixtures__/validApplicationSet.yml", &[49]),
];

fn root() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/gitops"
    ))
}

/// Every `.yaml` / `.yml` file of the corpus, vendored folders included.
fn yaml_files() -> Vec<SourceFile> {
    let root = root();
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let entry = entry.unwrap_or_else(|e| panic!("corpus: {e}"));
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) {
            let text =
                std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
            files.push(SourceFile {
                path: crate::pins::relative(&root, entry.path()),
                text,
            });
        }
    }
    files
}

/// The scanner `walk` hands a YAML file to, if any.
/// The scanner `walk` hands a YAML file to, if any, with ranges and local
/// charts told apart as the walk tells them.
fn route(file: &SourceFile) -> Option<Scan> {
    let mut scan = match yaml_kind(file)? {
        YamlKind::ChartDependencies => chart_yaml::scan(file),
        YamlKind::Argocd => argocd::scan(file),
    };
    scan.pins.iter_mut().for_each(classify);
    Some(scan)
}

fn kind_of(file: &SourceFile) -> PinKind {
    match yaml_kind(file) {
        Some(YamlKind::ChartDependencies) => PinKind::ChartDependency,
        _ => PinKind::Argocd,
    }
}

/// A pin as an expectation row, with its version instead of a `V`.
type Row<'a> = (
    usize,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn as_expected(pin: &Pin) -> Row<'_> {
    (
        pin.line,
        pin.name.as_str(),
        pin.chart.as_deref(),
        pin.repository.as_deref(),
        pin.version.as_deref(),
        pin.env.as_deref(),
    )
}

/// Each pin's text at its span is its version or range; a pin has a span
/// exactly when it has one (every version in this corpus is written
/// plainly).
fn check_spans(file: &SourceFile, pins: &[Pin]) {
    for pin in pins {
        let written = pin.version.as_ref().or(pin.constraint.as_ref());
        assert_eq!(
            pin.span.is_some(),
            written.is_some(),
            "{}: {pin:?}",
            file.path
        );
        if let (Some(span), Some(version)) = (&pin.span, written) {
            assert_eq!(
                file.text.get(span.clone()),
                Some(version.as_str()),
                "{}:{}",
                file.path,
                pin.line
            );
            assert_eq!(
                crate::pins::line_of(&file.text, span.start),
                pin.line,
                "{}",
                file.path
            );
        }
    }
}

#[test]
fn every_pin_of_the_corpus() {
    let files = yaml_files();
    let expected: BTreeMap<&str, &[Exp]> = EXPECTED.iter().copied().collect();
    let listed: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let known: Vec<&str> = expected.keys().copied().collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, known,
        "every corpus YAML file has expectations, and only those"
    );
    let mut total = 0;
    for file in &files {
        let scan = route(file).unwrap_or_default();
        let want = expected
            .get(file.path.as_str())
            .copied()
            .unwrap_or_default();
        let got: Vec<_> = scan.pins.iter().map(as_expected).collect();
        let want_rows: Vec<_> = want
            .iter()
            .map(|&(line, name, chart, repo, version, env)| {
                let version = match version {
                    Is(v) => Some(v),
                    Range(_) | Unresolved(_) => None,
                };
                (line, name, chart, repo, version, env)
            })
            .collect();
        assert_eq!(got, want_rows, "{}", file.path);
        for (pin, exp) in scan.pins.iter().zip(want) {
            assert_eq!(pin.kind, kind_of(file), "{}", file.path);
            assert_eq!(pin.file, file.path);
            let repo = exp.3.unwrap_or_default();
            assert_eq!(
                pin.local_chart,
                repo.starts_with("file://"),
                "{}",
                file.path
            );
            match exp.4 {
                Is(_) => assert_eq!(
                    (pin.reason.as_deref(), pin.constraint.as_deref()),
                    (None, None)
                ),
                Range(range) => assert_eq!(
                    (pin.reason.as_deref(), pin.constraint.as_deref()),
                    (None, Some(range)),
                    "{}",
                    file.path
                ),
                Unresolved(why) => {
                    let reason = pin.reason.as_deref().unwrap_or_default();
                    assert!(reason.contains(why), "{}: {reason}", file.path);
                }
            }
        }
        check_spans(file, &scan.pins);
        let warned: Vec<usize> = scan.warnings.iter().filter_map(|w| w.line).collect();
        let want_warned = EXPECTED_WARNINGS
            .iter()
            .find(|(path, _)| *path == file.path)
            .map_or(&[][..], |(_, lines)| lines);
        assert_eq!(warned, want_warned, "{}: {:?}", file.path, scan.warnings);
        total += scan.pins.len();
    }
    assert_eq!(
        total,
        EXPECTED.iter().map(|(_, pins)| pins.len()).sum::<usize>()
    );
}

/// The scanner reads a chart file under any name; only the walk is picky.
#[test]
fn chart_file_under_another_name() {
    let file = yaml_files()
        .into_iter()
        .find(|f| f.path.ends_with("ChartECR.yaml"))
        .unwrap_or_else(|| panic!("ChartECR.yaml is missing"));
    let scan = chart_yaml::scan(&file);
    let got: Vec<_> = scan.pins.iter().map(as_expected).collect();
    let repo = Some("oci://123456789.dkr.ecr.us-east-1.amazonaws.com");
    assert_eq!(
        got,
        [(
            6,
            "some-ecr-chart",
            Some("some-ecr-chart"),
            repo,
            Some("1.2.3"),
            None
        )]
    );
    check_spans(&file, &scan.pins);
}

/// The walk leaves out the vendored subchart and nothing else.
#[test]
fn walk_skips_only_vendored_subcharts() {
    let (collected, warnings) = collect(&root()).unwrap_or_else(|e| panic!("corpus: {e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let walked: Vec<String> = collected
        .into_iter()
        .map(|f| f.path)
        .filter(|p| p.ends_with(".yaml") || p.ends_with(".yml"))
        .collect();
    let all: Vec<String> = yaml_files().into_iter().map(|f| f.path).collect();
    let skipped: Vec<&String> = all.iter().filter(|p| !walked.contains(p)).collect();
    assert_eq!(
        skipped,
        ["Obmondo__kubeaid/argocd-helm-charts/gitea/charts/gitea/Chart.yaml"]
    );
}

/// A bump rewrites only the span: re-scanning finds the new version at the
/// same place and every other pin as before (shifted when after it).
#[test]
fn editing_a_span_changes_that_pin_only() {
    let mut edits = 0;
    for file in yaml_files() {
        let Some(before) = route(&file) else { continue };
        for (i, pin) in before.pins.iter().enumerate() {
            let Some(span) = pin.span.clone() else {
                continue;
            };
            let new_version = "10.200.3000-rc.1";
            let mut text = file.text.clone();
            text.replace_range(span.clone(), new_version);
            let edited = SourceFile {
                path: file.path.clone(),
                text,
            };
            let after = route(&edited).unwrap_or_default();
            assert_eq!(after.pins.len(), before.pins.len(), "{}", file.path);
            assert_eq!(after.warnings, before.warnings, "{}", file.path);
            let shift = |s: usize| {
                if s >= span.end {
                    s + new_version.len() - span.len()
                } else {
                    s
                }
            };
            for (j, (old, new)) in before.pins.iter().zip(&after.pins).enumerate() {
                let mut want = old.clone();
                want.span = old.span.clone().map(|s| shift(s.start)..shift(s.end));
                if i == j {
                    want.version = Some(new_version.to_owned());
                    want.constraint = None;
                    want.span = Some(span.start..span.start + new_version.len());
                }
                assert_eq!(new, &want, "{}: editing pin {i}", file.path);
            }
            check_spans(&edited, &after.pins);
            edits += 1;
        }
    }
    assert!(edits > 60, "only {edits} pins edited");
}

/// Truncated and mangled corpus files never panic a scanner, and whatever
/// pins they still give point at their versions.
#[test]
fn mangled_corpus_files_never_panic() {
    let mut seed: u64 = 0x2545_f491;
    for file in yaml_files() {
        let len = file.text.len();
        let mut variants: Vec<String> = (1..24)
            .filter_map(|k| file.text.get(..len * k / 24))
            .map(str::to_owned)
            .collect();
        for _ in 0..24 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let mut bytes = file.text.clone().into_bytes();
            if let Some(b) = bytes.get_mut((seed >> 33) as usize % len.max(1)) {
                let alphabet = b"{}[]'\"#:-&*!|>% \n\t\r";
                *b = alphabet[(seed >> 12) as usize % alphabet.len()];
            }
            variants.extend(String::from_utf8(bytes).ok());
        }
        for text in variants {
            let mangled = SourceFile {
                path: file.path.clone(),
                text,
            };
            let scan = argocd::scan(&mangled);
            check_spans_lenient(&mangled, &scan.pins);
            let scan = chart_yaml::scan(&mangled);
            check_spans_lenient(&mangled, &scan.pins);
        }
    }
}

fn check_spans_lenient(file: &SourceFile, pins: &[Pin]) {
    for pin in pins {
        if let Some(span) = &pin.span {
            assert_eq!(file.text.get(span.clone()), pin.version.as_deref());
        }
    }
}
