//! Version resolution, case by case, on small inline modules.

use super::*;

pub(super) fn sources(list: &[(&str, &str)]) -> Vec<SourceFile> {
    list.iter()
        .map(|(path, text)| SourceFile {
            path: (*path).to_owned(),
            text: (*text).to_owned(),
        })
        .collect()
}

/// Scans, and checks that every span holds exactly its version.
pub(super) fn scan_checked(files: &[SourceFile]) -> Scan {
    let scan = scan(files);
    for pin in &scan.pins {
        match (&pin.span, &pin.version) {
            (Some(span), Some(version)) => {
                let file = files.iter().find(|f| f.path == pin.file);
                let text = file.and_then(|f| f.text.get(span.clone()));
                assert_eq!(text, Some(version.as_str()), "{pin:?}");
                assert!(pin.reason.is_none(), "{pin:?}");
            }
            (None, None) => assert!(pin.reason.is_some(), "{pin:?}"),
            _ => panic!("span and version disagree: {pin:?}"),
        }
    }
    scan
}

/// (file, line, name, version) of each pin, for compact expectations.
pub(super) fn summary(scan: &Scan) -> Vec<(String, usize, String, Option<String>)> {
    scan.pins
        .iter()
        .map(|p| (p.file.clone(), p.line, p.name.clone(), p.version.clone()))
        .collect()
}

pub(super) fn row(
    file: &str,
    line: usize,
    name: &str,
    version: Option<&str>,
) -> (String, usize, String, Option<String>) {
    (
        file.to_owned(),
        line,
        name.to_owned(),
        version.map(str::to_owned),
    )
}

fn only_reason(scan: &Scan) -> String {
    assert_eq!(scan.pins.len(), 1, "{:?}", scan.pins);
    scan.pins[0].reason.clone().unwrap_or_default()
}

#[test]
fn literal_version_with_its_release() {
    let text = "resource \"helm_release\" \"argocd\" {\n  name       = \"argo-cd\"\n  repository = \"https://argoproj.github.io/argo-helm\"\n  chart      = \"argo-cd\"\n  version    = \"5.51.6\" # pinned\n}\n";
    let files = sources(&[("infra/argocd.tf", text)]);
    let scan = scan_checked(&files);
    let start = text.find("5.51.6").unwrap();
    assert!(scan.warnings.is_empty());
    assert_eq!(
        scan.pins,
        vec![Pin {
            file: "infra/argocd.tf".into(),
            line: 5,
            kind: PinKind::Terraform,
            name: "argo-cd".into(),
            env: None,
            repository: Some("https://argoproj.github.io/argo-helm".into()),
            chart: Some("argo-cd".into()),
            version: Some("5.51.6".into()),
            span: Some(start..start + 6),
            reason: None,
            constraint: None,
            local_chart: false,
            address: Some("helm_release.argocd".into()),
        }]
    );
}

#[test]
fn v_prefix_and_oci_chart_kept_as_written() {
    let files = sources(&[(
        "main.tf",
        "resource \"helm_release\" \"karpenter\" {\n  chart = \"oci://public.ecr.aws/karpenter/karpenter\"\n  version = \"v0.22.1\"\n}\n",
    )]);
    let scan = scan_checked(&files);
    let pin = &scan.pins[0];
    assert_eq!(pin.version.as_deref(), Some("v0.22.1"));
    assert_eq!(
        pin.chart.as_deref(),
        Some("oci://public.ecr.aws/karpenter/karpenter")
    );
    assert_eq!(pin.repository, None);
}

#[test]
fn missing_version_reports_the_block_line_and_a_local_chart_its_path() {
    let files = sources(&[(
        "main.tf",
        "\n\nresource \"helm_release\" \"redis\" {\n  chart = \"redis\"\n}\nresource \"helm_release\" \"local\" {\n  chart = \"./charts/x\"\n}\nresource \"helm_release\" \"url\" {\n  chart = \"https://x.test/${var.v}/x.tgz\"\n}\n",
    )]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![
            row("main.tf", 3, "redis", None),
            row("main.tf", 7, "local", None),
            row("main.tf", 9, "url", None)
        ]
    );
    // A chart template is reported as written; var.v is not declared, so
    // no version comes out of it.
    assert_eq!(
        scan.pins[2].chart.as_deref(),
        Some("https://x.test/${var.v}/x.tgz")
    );
    let reason = scan.pins[2].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("\"https://x.test/${var.v}/x.tgz\""),
        "{reason}"
    );
    assert!(scan.pins[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("no version attribute")));
    assert!(scan.pins[1]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("local path")));
}

#[test]
fn variable_default_in_the_same_folder() {
    let files = sources(&[
        (
            "m/main.tf",
            "resource \"helm_release\" \"x\" {\n  chart   = \"x\"\n  version = var.x_version\n}\n",
        ),
        (
            "m/variables.tf",
            "variable \"x_version\" {\n  type    = string\n  default = \"1.2.3\"\n}\n",
        ),
        // Another folder's variable of the same name is a different module.
        (
            "other/variables.tf",
            "variable \"x_version\" {\n  default = \"9.9.9\"\n}\n",
        ),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![row("m/variables.tf", 3, "x", Some("1.2.3"))]
    );
    assert_eq!(scan.pins[0].chart.as_deref(), Some("x"));
}

#[test]
fn each_var_file_value_is_its_own_pin() {
    let files = sources(&[
        ("m/main.tf", "resource \"helm_release\" \"x\" {\n  chart   = \"x\"\n  version = var.v\n}\nvariable \"v\" {\n  default = \"1.0.0\"\n}\n"),
        ("m/prod.tfvars", "v = \"1.0.2\"\n"),
        ("m/dev.auto.tfvars", "# dev runs ahead\nv = \"1.1.0\" # try\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![
            row("m/main.tf", 6, "x", Some("1.0.0")),
            row("m/prod.tfvars", 1, "x", Some("1.0.2")),
            row("m/dev.auto.tfvars", 2, "x", Some("1.1.0")),
        ]
    );
    assert!(scan.pins.iter().all(|p| p.env.is_none()));
}

#[test]
fn locals_resolve_in_the_same_module() {
    let files = sources(&[
        ("m/main.tf", "locals {\n  chart_version = local.pinned\n  pinned        = var.v\n}\nresource \"helm_release\" \"x\" {\n  chart   = \"x\"\n  version = local.chart_version\n}\n"),
        ("m/variables.tf", "variable \"v\" {\n  default = \"2.0.0\"\n}\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![row("m/variables.tf", 2, "x", Some("2.0.0"))]
    );
}

const MODULE: &str = "resource \"helm_release\" \"argocd\" {\n  repository = \"oci://ghcr.io/argoproj/argo-helm\"\n  chart      = \"argo-cd\"\n  version    = var.chart_version\n}\n";
const MODULE_VARS: &str = "variable \"chart_version\" {\n  type = string\n}\n";

#[test]
fn module_inputs_followed_to_tfvars_and_literals() {
    let files = sources(&[
        ("envs/dev/main.tf", "module \"argocd\" {\n  source        = \"../../modules/argocd\"\n  chart_version = var.argocd_chart_version\n}\nvariable \"argocd_chart_version\" {\n  type = string\n}\n"),
        ("envs/dev/terraform.tfvars", "argocd_chart_version = \"9.4.15\"\n"),
        ("envs/prod/main.tf", "module \"argocd\" {\n  source        = \"../../modules/argocd/\"\n  chart_version = \"9.4.10\"\n}\n"),
        ("modules/argocd/argocd.tf", MODULE),
        ("modules/argocd/variables.tf", MODULE_VARS),
        // Same input name, but a registry module: not this one.
        ("envs/qa/main.tf", "module \"argocd\" {\n  source        = \"example/argocd/helm\"\n  chart_version = \"1.0.0\"\n}\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![
            row("envs/dev/terraform.tfvars", 1, "argocd", Some("9.4.15")),
            row("envs/prod/main.tf", 3, "argocd", Some("9.4.10")),
        ]
    );
    assert!(scan
        .pins
        .iter()
        .all(|p| p.chart.as_deref() == Some("argo-cd")));
}

#[test]
fn var_files_beside_a_root_module_without_config() {
    // prod holds only a var-file: it is applied to the sibling root module.
    let files = sources(&[
        ("envs/dev/main.tf", "module \"argocd\" {\n  source        = \"../../modules/argocd\"\n  chart_version = var.argocd_chart_version\n}\nvariable \"argocd_chart_version\" {}\n"),
        ("envs/dev/terraform.tfvars", "argocd_chart_version = \"9.4.15\"\n"),
        ("envs/prod/terraform.tfvars", "\nargocd_chart_version = \"9.4.1\"\n"),
        ("modules/argocd/argocd.tf", MODULE),
        ("modules/argocd/variables.tf", MODULE_VARS),
        // qa is a module of its own, even though its main.tf is broken.
        ("envs/qa/main.tf", "module \"argocd\" {\n"),
        ("envs/qa/terraform.tfvars", "argocd_chart_version = \"0.0.2\"\n"),
        // A var-file folder in another part of the tree is not dev's.
        ("modules/extra/x.tfvars", "argocd_chart_version = \"0.0.1\"\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![
            row("envs/dev/terraform.tfvars", 1, "argocd", Some("9.4.15")),
            row("envs/prod/terraform.tfvars", 2, "argocd", Some("9.4.1")),
        ]
    );
}

#[test]
fn variable_without_any_value_is_unresolved() {
    let files = sources(&[
        ("modules/argocd/argocd.tf", MODULE),
        ("modules/argocd/variables.tf", MODULE_VARS),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![row("modules/argocd/argocd.tf", 4, "argocd", None)]
    );
    let reason = only_reason(&scan);
    assert!(
        reason.contains("variable chart_version has no default"),
        "{reason}"
    );
}

#[test]
fn undeclared_variable_and_local() {
    let files = sources(&[
        ("main.tf", "resource \"helm_release\" \"a\" {\n  chart   = \"a\"\n  version = var.nope\n}\nresource \"helm_release\" \"b\" {\n  chart   = \"b\"\n  version = local.nope\n}\n"),
        // A value for an undeclared variable is not taken.
        ("terraform.tfvars", "nope = \"1.0.0\"\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![row("main.tf", 3, "a", None), row("main.tf", 7, "b", None)]
    );
    assert!(scan.pins[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("not declared")));
    assert!(scan.pins[1]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("not defined")));
}

#[test]
fn computed_versions_are_reported_with_a_reason() {
    let cases = [
        ("var.path != null ? null : var.v", "conditional expression"),
        ("trimprefix(var.v, \"v\")", "call to trimprefix()"),
        ("\"v${var.v}\"", "string template"),
        ("module.versions.argocd", "known only when Terraform runs"),
        ("data.x.y.version", "known only when Terraform runs"),
        ("null", "version is null"),
        ("1.2", "a number"),
        ("\"\"", "empty string"),
        ("\"1.0.\\u0031\"", "escape sequences"),
        ("var.list[*].v", "splat"),
        ("var.list[var.i]", "computed index"),
        ("<<EOT\n1.0.0\nEOT", "heredoc"),
    ];
    for (expr, want) in cases {
        let text = format!(
            "variable \"v\" {{\n  default = \"1.0.0\"\n}}\nvariable \"list\" {{\n  default = []\n}}\nresource \"helm_release\" \"x\" {{\n  chart   = \"x\"\n  version = {expr}\n}}\n"
        );
        let files = sources(&[("main.tf", &text)]);
        let scan = scan_checked(&files);
        assert!(scan.warnings.is_empty(), "{expr}: {:?}", scan.warnings);
        assert_eq!(summary(&scan), vec![row("main.tf", 9, "x", None)], "{expr}");
        let reason = only_reason(&scan);
        assert!(reason.contains(want), "{expr}: {reason}");
    }
}

#[test]
fn a_lone_interpolation_is_the_reference_itself() {
    let files = sources(&[(
        "main.tf",
        "variable \"v\" {\n  default = \"0.9.0\"\n}\nresource \"helm_release\" \"x\" {\n  chart   = \"x\"\n  version = \"${var.v}\"\n}\n",
    )]);
    let scan = scan_checked(&files);
    assert_eq!(summary(&scan), vec![row("main.tf", 2, "x", Some("0.9.0"))]);
}

const ADDONS: &str = r#"variable "addons_versions" {
  type        = list (object({
    argocd_chart_version = string
    kargo_chart_version = string
  }))
  default = [{
    argocd_chart_version                     = "7.8.25" # https://github.com/argoproj/argo-helm
    kargo_chart_version                      = "1.4.1" # https://github.com/akuity/kargo/releases
  }]
}
variable "by_name" {
  default = { "argo-cd" = { version = "7.8.0" } }
}
"#;

#[test]
fn paths_into_list_and_object_defaults() {
    let release = |name: &str, expr: &str| {
        format!("resource \"helm_release\" \"{name}\" {{\n  chart   = \"{name}\"\n  version = {expr}\n}}\n")
    };
    let main = [
        release("argocd", "var.addons_versions[0].argocd_chart_version"),
        release("kargo", "local.kargo"),
        release("legacy", "var.by_name[\"argo-cd\"].version"),
        release("past_end", "var.addons_versions[1].argocd_chart_version"),
        release("no_key", "var.addons_versions[0].nope"),
        release("whole", "var.addons_versions"),
        "locals {\n  kargo = var.addons_versions.0[\"kargo_chart_version\"]\n}\n".to_owned(),
    ]
    .concat();
    let files = sources(&[("tf/main.tf", &main), ("tf/variables.tf", ADDONS)]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![
            row("tf/variables.tf", 7, "argocd", Some("7.8.25")),
            row("tf/variables.tf", 8, "kargo", Some("1.4.1")),
            row("tf/variables.tf", 12, "legacy", Some("7.8.0")),
            row("tf/main.tf", 15, "past_end", None),
            row("tf/main.tf", 19, "no_key", None),
            row("tf/main.tf", 23, "whole", None),
        ]
    );
    let reasons: Vec<&str> = scan.pins[3..]
        .iter()
        .filter_map(|p| p.reason.as_deref())
        .collect();
    assert!(reasons[0].contains("past the end"), "{}", reasons[0]);
    assert!(reasons[1].contains("no key nope"), "{}", reasons[1]);
    assert!(reasons[2].contains("a list"), "{}", reasons[2]);
}

#[test]
fn one_unresolved_caller_does_not_hide_the_others() {
    let files = sources(&[
        ("modules/argocd/argocd.tf", MODULE),
        ("modules/argocd/variables.tf", MODULE_VARS),
        ("a/main.tf", "module \"argocd\" {\n  source        = \"../modules/argocd\"\n  chart_version = \"1.0.0\"\n}\n"),
        ("b/main.tf", "module \"argocd\" {\n  source        = \"../modules/argocd\"\n  chart_version = var.on ? \"1\" : \"2\"\n}\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![
            row("a/main.tf", 3, "argocd", Some("1.0.0")),
            row("modules/argocd/argocd.tf", 4, "argocd", None)
        ]
    );
    let reason = scan.pins[1].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("conditional") && reason.contains("b/main.tf:1"),
        "{reason}"
    );
}

#[test]
fn reference_cycles_end() {
    let files = sources(&[
        ("m/main.tf", "locals {\n  a = local.b\n  b = local.a\n}\nresource \"helm_release\" \"x\" {\n  chart   = \"x\"\n  version = local.a\n}\n"),
        // A module that calls itself with its own input.
        ("n/main.tf", "module \"self\" {\n  source = \"./\"\n  v      = var.v\n}\nvariable \"v\" {}\nresource \"helm_release\" \"y\" {\n  chart   = \"y\"\n  version = var.v\n}\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        vec![
            row("m/main.tf", 7, "x", None),
            row("n/main.tf", 8, "y", None)
        ]
    );
    assert!(scan.pins.iter().all(|p| p
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("refers back"))));
}
