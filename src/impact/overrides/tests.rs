#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::pins::{self, DiscoverOptions};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every override of the pins of `chart` in the repository at `root`, as
/// `file:line path = value` (`?` unknown) or `file:line ! reason`.
fn overrides_of(root: &Path, chart: &str) -> Vec<String> {
    let (files, _) = pins::collect(root).unwrap();
    let scan = pins::scan_files(&files, &DiscoverOptions::default());
    let pin = scan
        .pins
        .iter()
        .find(|p| p.chart_name() == Some(chart))
        .unwrap_or_else(|| panic!("no pin of {chart}: {:?}", scan.pins));
    collect(Some(root), pin, &files)
        .into_iter()
        .map(|o| match &o.unresolved {
            Some(why) if o.path.is_empty() => format!("{}:{} ! {why}", o.file, o.line),
            _ => format!(
                "{}:{} {} = {}",
                o.file,
                o.line,
                o.path,
                o.value.as_ref().map_or("?".to_owned(), Value::to_string)
            ),
        })
        .collect()
}

const APP: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-dev
spec:
  sources:
    - repoURL: https://charts.example.com
      chart: web
      targetRevision: 1.0.0
      helm:
        valueFiles:
          - $values/values/web/dev.yaml
          - values-prod.yaml
          - $values/values/web/missing.yaml
        values: |
          image:
            tag: "2.0"
          replicas: 2
        valuesObject:
          podAnnotations:
            prometheus.io/scrape: "true"
        parameters:
          - name: ingress.annotations.nginx\.ingress\.kubernetes\.io/ssl-redirect
            value: "false"
          - name: image.tag
            value: "1.10"
            forceString: true
          - name: service.port
            value: "8080"
    - repoURL: https://github.com/acme/gitops.git
      targetRevision: main
      ref: values
"#;

#[test]
fn argocd_overrides_in_helm_order_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "apps/dev/web.yaml", APP);
    write(
        dir.path(),
        "values/web/dev.yaml",
        "resources:\n  limits:\n    cpu: 500m\n",
    );
    let got = overrides_of(dir.path(), "web");
    let want = [
        "values/web/dev.yaml:3 resources.limits.cpu = \"500m\"",
        "apps/dev/web.yaml:13 ! value file `values-prod.yaml` is read from the chart package, not from this repository",
        "apps/dev/web.yaml:14 ! value file `$values/values/web/missing.yaml`: `values/web/missing.yaml` is not in this repository (the `values` source is https://github.com/acme/gitops.git)",
        "apps/dev/web.yaml:17 image.tag = \"2.0\"",
        "apps/dev/web.yaml:18 replicas = 2",
        "apps/dev/web.yaml:21 podAnnotations.prometheus\\.io/scrape = \"true\"",
        "apps/dev/web.yaml:23 ingress.annotations.nginx\\.ingress\\.kubernetes\\.io/ssl-redirect = false",
        "apps/dev/web.yaml:25 image.tag = \"1.10\"",
        "apps/dev/web.yaml:28 service.port = 8080",
    ];
    assert_eq!(got, want);
}

#[test]
fn argocd_values_in_a_quoted_string_sit_on_the_key_line() {
    let dir = tempfile::tempdir().unwrap();
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\nspec:\n  source:\n    repoURL: https://charts.example.com\n    chart: web\n    targetRevision: 1.0.0\n    helm:\n      values: \"a: 1\\nb:\\n  c: x\\n\"\n";
    write(dir.path(), "apps/web.yaml", app);
    assert_eq!(
        overrides_of(dir.path(), "web"),
        ["apps/web.yaml:11 a = 1", "apps/web.yaml:11 b.c = \"x\""]
    );
}

const RELEASE: &str = r#"resource "helm_release" "web" {
  name       = "web"
  repository = "https://charts.example.com"
  chart      = "web"
  version    = "1.0.0"

  values = [
    file("${path.module}/values/web.yaml"),
    yamlencode({
      replicas = 3
      image = {
        tag = var.tag
      }
      "podLabels" = { team = "core" }
    }),
    <<-EOT
    service:
      type: ClusterIP
    EOT
    ,
    var.extra_values,
  ]

  set {
    name  = "ingress.enabled"
    value = true
  }
  set {
    name  = "image.pullPolicy"
    value = "Always"
    type  = "string"
  }
  set_sensitive {
    name  = "auth.password"
    value = var.password
  }
}
"#;

#[test]
fn terraform_overrides_in_provider_order_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "infra/web.tf", RELEASE);
    write(
        dir.path(),
        "infra/values/web.yaml",
        "nodeSelector:\n  disk: ssd\n",
    );
    let got = overrides_of(dir.path(), "web");
    let want = [
        "infra/values/web.yaml:2 nodeSelector.disk = \"ssd\"",
        "infra/web.tf:10 replicas = 3",
        "infra/web.tf:12 image.tag = ?",
        "infra/web.tf:14 podLabels.team = \"core\"",
        "infra/web.tf:18 service.type = \"ClusterIP\"",
        "infra/web.tf:21 ! values item var.extra_values is known only when Terraform runs",
        "infra/web.tf:25 ingress.enabled = true",
        "infra/web.tf:29 image.pullPolicy = \"Always\"",
        "infra/web.tf:34 auth.password = ?",
    ];
    assert_eq!(got, want);
}

#[test]
fn terraform_set_lists_of_provider_v3_and_unread_values() {
    let dir = tempfile::tempdir().unwrap();
    let tf = r#"resource "helm_release" "web" {
  chart      = "web"
  repository = "https://charts.example.com"
  version    = "1.0.0"
  values     = var.values
  set = [
    { name = "a.b", value = "1" },
    { name = var.key, value = "x" },
  ]
}
"#;
    write(dir.path(), "main.tf", tf);
    assert_eq!(
        overrides_of(dir.path(), "web"),
        [
            "main.tf:5 ! values = var.values is known only when Terraform runs",
            "main.tf:7 a.b = 1",
            "main.tf:8 ! set name var.key is known only when Terraform runs",
        ]
    );
}

#[test]
fn value_files_never_leave_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo {
        root: Some(dir.path()),
        files: &[],
    };
    for path in ["../etc/passwd", "/etc/passwd", "a/../../x"] {
        assert!(repo.read(path).is_err(), "{path}");
    }
    assert_eq!(join("a/b", "../c.yaml").as_deref(), Some("a/c.yaml"));
    assert_eq!(join("", "../c.yaml"), None);
    assert_eq!(set_value("010", false), json!(10));
    assert_eq!(set_value("true", true), json!("true"));
}
