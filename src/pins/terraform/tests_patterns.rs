//! The corpus repositories added for `for_each`, module inputs, JSON chart
//! defaults and Terraform addresses, against the pins a careful reader
//! listed in `shared/corpus/gitops/EXPECTED-patterns.json`.

use std::path::PathBuf;

use super::tests_corpus::{corpus, row, Row};
use super::*;

/// (file, line, name, chart, repository, version) of the added
/// repositories, as read in the files.
pub(super) fn rows() -> Vec<Row> {
    let tb = |p: &str| format!("thoughtbot__flightdeck/aws/platform/modules/{p}");
    let pagopa = |p: &str| format!("pagopa__interop-infra-signalhub-public/src/main/k8s/{p}");
    let (lbc, eks) = (
        Some("aws-load-balancer-controller"),
        Some("https://aws.github.io/eks-charts"),
    );
    let mut rows = vec![
        // Root var default null; the example passes its own var, set in
        // the fixtures. The name is coalesce(var.release_name,
        // module.this.name, …): not known, so the label names it.
        row(
            "cloudposse__terraform-aws-helm-release/examples/complete/fixtures.us-east-2.tfvars",
            66,
            "this",
            Some("aws-node-termination-handler"),
            Some("https://aws.github.io/eks-charts/"),
            Some("0.21.0"),
        ),
        row(
            &pagopa("env/dev/terraform.tfvars"),
            17,
            "aws-load-balancer-controller",
            lbc,
            eks,
            Some("1.8.1"),
        ),
        row(
            &pagopa("env/prod/terraform.tfvars"),
            17,
            "aws-load-balancer-controller",
            lbc,
            eks,
            Some("1.8.1"),
        ),
        row(
            &pagopa("20-kube-state-metrics.tf"),
            5,
            "kube-state-metrics",
            Some("kube-state-metrics"),
            Some("https://prometheus-community.github.io/helm-charts"),
            Some("5.19.1"),
        ),
        // coalesce(var.chart_version, local.chart_defaults.version): the
        // callers pass null-default variables (or nothing), so chart.json.
        // Two modules declare no `name` variable in the corpus.
        row(
            &tb("load-balancer-controller/chart.json"),
            4,
            "aws-load-balancer-controller",
            lbc,
            eks,
            Some("1.16.0"),
        ),
        row(
            &tb("aws-ebs-csi-driver/chart.json"),
            4,
            "this",
            Some("aws-ebs-csi-driver"),
            Some("https://kubernetes-sigs.github.io/aws-ebs-csi-driver"),
            Some("2.53.0"),
        ),
        row(
            &tb("secrets-store-provider/chart.json"),
            4,
            "this",
            Some("secrets-store-csi-driver-provider-aws"),
            Some("https://aws.github.io/secrets-store-csi-driver-provider-aws"),
            Some("0.3.1"),
        ),
        // A local chart directory: no version, at the line of its path.
        row(
            &tb("load-balancer-controller/main.tf"),
            16,
            "target-group-binding",
            Some("${path.module}/target-group-binding"),
            None,
            None,
        ),
        // The trap: the map holds versions the release never passes on.
        row(
            "zimagi__terraform-gke/argocd.tf",
            24,
            "argo-cd",
            Some("argo-cd"),
            Some("https://argoproj.github.io/argo-helm"),
            None,
        ),
        row(
            "zimagi__terraform-gke/argocd.tf",
            24,
            "argocd-apps",
            Some("argocd-apps"),
            Some("https://charts.zimagi.com"),
            None,
        ),
    ];
    let addons = [
        (
            11,
            "ingress-nginx",
            "https://kubernetes.github.io/ingress-nginx",
            "4.11.1",
        ),
        (
            22,
            "metrics-server",
            "https://kubernetes-sigs.github.io/metrics-server",
            "3.12.1",
        ),
        (33, "longhorn", "https://charts.longhorn.io", "1.6.2"),
        (
            44,
            "rabbitmq-cluster-operator",
            "https://charts.bitnami.com/bitnami",
            "4.3.18",
        ),
        (55, "cert-manager", "https://charts.jetstack.io", "v1.15.2"),
        (
            66,
            "kube-prometheus-stack",
            "https://prometheus-community.github.io/helm-charts",
            "61.9.0",
        ),
    ];
    for (line, chart, repository, version) in addons {
        rows.push(row(
            "ravanbod__my-cluster-addons/main.tf",
            line,
            chart,
            Some(chart),
            Some(repository),
            Some(version),
        ));
    }
    rows
}

/// `helm_release.this (module.helm_release)` as Terraform writes it.
fn address(name: &str) -> String {
    match name.split_once(" (") {
        Some((resource, module)) => format!("{}.{resource}", module.trim_end_matches(')')),
        None => name.to_owned(),
    }
}

fn field(entry: &serde_json::Value, key: &str) -> Option<String> {
    entry
        .get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

#[test]
fn terraform_pins_the_expectations_list_are_found_at_their_addresses() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/gitops/EXPECTED-patterns.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let scan = scan(&corpus());
    let mut checked = 0;
    for entry in entries
        .iter()
        .filter(|e| field(e, "kind").as_deref() == Some("helm_release"))
    {
        let want = address(&field(entry, "name").unwrap_or_default());
        let file = field(entry, "file").unwrap_or_default();
        let found: Vec<&Pin> = scan
            .pins
            .iter()
            .filter(|p| p.file == file && p.address.as_deref() == Some(want.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "{want} in {file}: {:#?}", scan.pins);
        let pin = found[0];
        assert_eq!(pin.chart, field(entry, "chart"), "{want}");
        assert_eq!(pin.repository, field(entry, "repository"), "{want}");
        assert_eq!(pin.version, field(entry, "version"), "{want}");
        // Without a version token the list names the chart's line; the
        // scan names the block's (see the rows above).
        if let Some(line) = entry.get("line").and_then(serde_json::Value::as_u64) {
            if pin.version.is_some() {
                assert_eq!(pin.line as u64, line, "{want}");
            }
        }
        checked += 1;
    }
    // The list's Terraform entries: a list that loses some shows here.
    assert_eq!(checked, 16);
    assert!(
        scan.pins.iter().all(|p| p.address.is_some()),
        "{:#?}",
        scan.pins
    );
    let trap = scan
        .pins
        .iter()
        .filter(|p| p.file == "zimagi__terraform-gke/argocd.tf");
    for pin in trap {
        let reason = pin.reason.as_deref().unwrap_or_default();
        assert!(reason.contains("no version attribute"), "{pin:?}");
    }
}
