//! The scanner over real Terraform from public repositories
//! (`shared/corpus/gitops`, one top folder per repository), against
//! expectations written by reading those files.

use std::path::PathBuf;

use super::*;

pub(super) fn corpus() -> Vec<SourceFile> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/gitops");
    let (files, warnings) = match crate::pins::collect(&root) {
        Ok(found) => found,
        Err(e) => panic!("corpus at {}: {e}", root.display()),
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    files
        .into_iter()
        .filter(|f| {
            f.path.ends_with(".tf") || f.path.ends_with(".tfvars") || f.path.ends_with(".json")
        })
        .collect()
}

pub(super) type Row = (
    String,
    usize,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// (file, line, name, chart, repository, version); version None means
/// unresolved, with a reason.
pub(super) fn row(
    file: &str,
    line: usize,
    name: &str,
    chart: Option<&str>,
    repository: Option<&str>,
    version: Option<&str>,
) -> Row {
    let own = |s: Option<&str>| s.map(str::to_owned);
    (
        file.to_owned(),
        line,
        name.to_owned(),
        own(chart),
        own(repository),
        own(version),
    )
}

fn expected() -> Vec<Row> {
    let rm = |p: &str| format!("AlbertVilaCalvo__RecipeManager/terraform/server/{p}");
    let renovate = "renovatebot__renovate/lib/modules/manager/terraform/__fixtures__/helm.tf";
    let stable = Some("https://charts.helm.sh/stable");
    let appvia = |p: &str| format!("appvia__terraform-google-wayfinder/{p}");
    let kubeaid = |p: &str| format!("Obmondo__kubeaid/terraform/helm/{p}");
    let (argo, argo_repo) = (Some("argo-cd"), Some("oci://ghcr.io/argoproj/argo-helm"));
    let (karp, karp_repo) = (Some("karpenter"), Some("oci://public.ecr.aws/karpenter"));
    let mut rows = vec![
        // Literals. Azure's argocd chart version goes to a registry module,
        // which installs it; only backstage is a helm_release here.
        row(
            "Azure-Samples__aks-platform-engineering/terraform/main.tf",
            557,
            "backstage",
            Some("backstagechart"),
            Some("oci://oowcontainerimages.azurecr.io/helm"),
            Some("0.1.0"),
        ),
        row(
            &kubeaid("argocd.tf"),
            7,
            "argo-cd",
            Some("argo-cd"),
            Some("https://argoproj.github.io/argo-helm"),
            Some("7.5.2"),
        ),
        row(
            &kubeaid("sealed-secrets.tf"),
            8,
            "sealed-secrets",
            Some("sealed-secrets"),
            Some("https://bitnami-labs.github.io/sealed-secrets"),
            Some("2.2.0"),
        ),
        row(
            &appvia("cert-manager.tf"),
            33,
            "cert-manager",
            Some("cert-manager"),
            Some("https://charts.jetstack.io"),
            Some("1.16.0"),
        ),
        row(
            &appvia("external-dns.tf"),
            33,
            "external-dns",
            Some("external-dns"),
            Some("https://kubernetes-sigs.github.io/external-dns"),
            Some("1.15.0"),
        ),
        row(
            &appvia("ingress.tf"),
            14,
            "ingress-nginx",
            Some("ingress-nginx"),
            Some("https://kubernetes.github.io/ingress-nginx"),
            Some("4.11.2"),
        ),
        // The version is inside a templated chart URL, from a variable
        // whose default is the pin; the chart is reported as written.
        row(
            &appvia("variables.tf"),
            198,
            "wayfinder",
            Some("https://storage.googleapis.com/${var.wayfinder_release_channel}/${var.wayfinder_version}/wayfinder-helm-chart.tgz"),
            None,
            Some("v2.9.7"),
        ),
        // Renovate's fixture, odd on purpose: no version, local chart, no
        // chart, no name attribute (the label still names the pin), no
        // repository, OCI chart URL.
        row(
            renovate,
            7,
            "my-redis-release",
            Some("redis"),
            stable,
            Some("1.0.1"),
        ),
        row(
            renovate,
            11,
            "my-redis-release",
            Some("redis"),
            stable,
            None,
        ),
        // A local chart: at the line of its path.
        row(
            renovate,
            20,
            "my-local-chart",
            Some("./charts/example"),
            None,
            None,
        ),
        row(
            renovate,
            27,
            "my-redis-release",
            None,
            stable,
            Some("4.0.1"),
        ),
        row(
            renovate,
            33,
            "invalid_2",
            Some("redis"),
            stable,
            Some("5.0.1"),
        ),
        row(
            renovate,
            39,
            "my-redis-release",
            Some("redis"),
            None,
            Some("6.0.1"),
        ),
        row(
            renovate,
            46,
            "karpenter",
            Some("oci://public.ecr.aws/karpenter/karpenter"),
            None,
            Some("v0.22.1"),
        ),
        row(
            renovate,
            54,
            "karpenter",
            Some("karpenter"),
            Some("oci://public.ecr.aws/karpenter"),
            Some("v0.22.1"),
        ),
        row(
            renovate,
            62,
            "kube-prometheus",
            Some("kube-prometheus"),
            Some("oci://hub.proxy.test/bitnamicharts"),
            Some("8.9.1"),
        ),
        // RecipeManager: var.chart_version (no default) <- module call in
        // environments/dev/main.tf <- var.<x>_chart_version <- terraform.tfvars
        // of dev, and of prod, whose folder holds only that var-file here.
        row(
            &rm("environments/dev/terraform.tfvars"),
            57,
            "karpenter",
            karp,
            karp_repo,
            Some("1.8.3"),
        ),
        row(
            &rm("environments/dev/terraform.tfvars"),
            60,
            "argocd",
            argo,
            argo_repo,
            Some("9.4.15"),
        ),
        row(
            &rm("environments/prod/terraform.tfvars"),
            57,
            "karpenter",
            karp,
            karp_repo,
            Some("1.8.3"),
        ),
        row(
            &rm("environments/prod/terraform.tfvars"),
            60,
            "argocd",
            argo,
            argo_repo,
            Some("9.4.15"),
        ),
        // repository, chart and version are all ternaries on var.chart_path.
        row(
            &rm("modules/lb-controller/lb-controller.tf"),
            17,
            "aws-load-balancer-controller",
            None,
            None,
            None,
        ),
    ];
    rows.extend(super::tests_patterns::rows());
    rows.sort();
    rows
}

fn actual(scan: &Scan) -> Vec<Row> {
    let mut rows: Vec<_> = scan
        .pins
        .iter()
        .map(|p| {
            let row = (
                p.file.clone(),
                p.line,
                p.name.clone(),
                p.chart.clone(),
                p.repository.clone(),
                p.version.clone(),
            );
            assert_eq!(p.kind, PinKind::Terraform);
            assert_eq!(p.version.is_none(), p.reason.is_some(), "{p:?}");
            assert_eq!(p.version.is_none(), p.span.is_none(), "{p:?}");
            row
        })
        .collect();
    rows.sort();
    rows
}

fn assert_spans(files: &[SourceFile], scan: &Scan) {
    for pin in &scan.pins {
        if let (Some(span), Some(version)) = (&pin.span, &pin.version) {
            let text = files
                .iter()
                .find(|f| f.path == pin.file)
                .and_then(|f| f.text.get(span.clone()));
            assert_eq!(text, Some(version.as_str()), "{pin:?}");
        }
    }
}

#[test]
fn corpus_pins_match_what_the_files_say() {
    let files = corpus();
    let scan = scan(&files);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(actual(&scan), expected());
    assert_spans(&files, &scan);

    // Several Renovate releases share the Helm release name
    // `my-redis-release`, so look the unresolved ones up by line too.
    let reason_at = |name: &str, line: usize| {
        let pin = scan.pins.iter().find(|p| p.name == name && p.line == line);
        pin.and_then(|p| p.reason.clone()).unwrap_or_default()
    };
    let reason = |name: &str| {
        let pin = scan.pins.iter().find(|p| p.name == name);
        pin.and_then(|p| p.reason.clone()).unwrap_or_default()
    };
    assert!(reason_at("my-redis-release", 11).contains("no version attribute"));
    assert!(reason("my-local-chart").contains("local path"));
    let lb = reason("aws-load-balancer-controller");
    assert!(lb.contains("conditional expression"), "{lb}");
}

#[test]
fn editing_a_span_changes_only_that_pin() {
    let files = corpus();
    let before = scan(&files);
    let mut edited = 0;
    for (i, pin) in before.pins.iter().enumerate() {
        let Some(span) = pin.span.clone() else {
            continue;
        };
        let mut changed = files.clone();
        let Some(file) = changed.iter_mut().find(|f| f.path == pin.file) else {
            panic!("no file for {pin:?}");
        };
        // Longer than any corpus version, so later spans in the file move.
        file.text.replace_range(span, "v123.456.789-rc.1");
        let after = scan(&changed);
        assert!(after.warnings.is_empty(), "{:?}", after.warnings);
        assert_spans(&changed, &after);
        assert_eq!(after.pins.len(), before.pins.len());
        for (j, (old, new)) in before.pins.iter().zip(&after.pins).enumerate() {
            let mut want = old.clone();
            if i == j {
                want.version = Some("v123.456.789-rc.1".into());
            }
            // Spans are checked against the edited text above.
            want.span.clone_from(&new.span);
            assert_eq!(new, &want);
        }
        edited += 1;
    }
    // Every resolved row of `expected`, each edited on its own.
    let resolved = expected().iter().filter(|r| r.5.is_some()).count();
    assert_eq!(edited, resolved);
}
