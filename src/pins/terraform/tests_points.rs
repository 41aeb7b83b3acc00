//! `for_each` instances, function fallbacks, JSON chart defaults, chart
//! templates and addresses, case by case on small inline modules.

use super::tests::{row, scan_checked, sources, summary};
use super::*;
use crate::pins::{edit, scan_files, DiscoverOptions};

/// (file, line, name, version, address) of each pin.
fn addressed(scan: &Scan) -> Vec<(String, usize, String, Option<String>, String)> {
    scan.pins
        .iter()
        .map(|p| {
            let address = p.address.clone().unwrap_or_default();
            (
                p.file.clone(),
                p.line,
                p.name.clone(),
                p.version.clone(),
                address,
            )
        })
        .collect()
}

fn pin(
    file: &str,
    line: usize,
    name: &str,
    version: Option<&str>,
    address: &str,
) -> (String, usize, String, Option<String>, String) {
    let (file, line, name, version) = row(file, line, name, version);
    (file, line, name, version, address.to_owned())
}

#[test]
fn chart_and_repository_follow_locals_and_variables() {
    let files = sources(&[(
        "main.tf",
        "locals {\n  chart = local.name\n  name  = \"argo-cd\"\n}\nvariable \"repo\" {\n  default = \"https://argoproj.github.io/argo-helm\"\n}\nresource \"helm_release\" \"a\" {\n  chart      = local.chart\n  repository = \"${var.repo}\"\n  version    = \"5.51.6\"\n}\nresource \"helm_release\" \"b\" {\n  chart   = \"${path.module}/charts/b\"\n  version = \"0.1.0\"\n}\n",
    )]);
    let scan = scan_checked(&files);
    let got: Vec<(Option<&str>, Option<&str>)> = scan
        .pins
        .iter()
        .map(|p| (p.chart.as_deref(), p.repository.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some("argo-cd"),
                Some("https://argoproj.github.io/argo-helm")
            ),
            (Some("${path.module}/charts/b"), None),
        ]
    );
}

#[test]
fn a_version_inside_a_chart_url_is_the_variable_it_comes_from() {
    let text = "variable \"channel\" {\n  default = \"releases\"\n}\nvariable \"v\" {\n  default = \"v2.9.7\"\n}\nresource \"helm_release\" \"w\" {\n  chart = \"https://h.test/${var.channel}/${var.v}/w.tgz\"\n}\n";
    let files = sources(&[("main.tf", text), ("prod.tfvars", "v = \"v3.0.0\"\n")]);
    let scan = scan_checked(&files);
    assert_eq!(
        summary(&scan),
        [
            row("main.tf", 5, "w", Some("v2.9.7")),
            row("prod.tfvars", 1, "w", Some("v3.0.0")),
        ]
    );
    assert_eq!(
        scan.pins[0].chart.as_deref(),
        Some("https://h.test/${var.channel}/${var.v}/w.tgz")
    );
}

const ADDONS: &str = "resource \"helm_release\" \"addons\" {\n  for_each   = var.addons\n  name       = each.key\n  chart      = each.value.chart\n  repository = each.value[\"repo\"]\n  version    = each.value.version\n}\nvariable \"addons\" {\n  type = map(any)\n}\n";

#[test]
fn for_each_over_a_map_passed_by_a_caller() {
    let caller = "module \"platform\" {\n  source = \"../modules/addons\"\n  addons = {\n    \"ingress-nginx\" = {\n      chart   = \"ingress-nginx\"\n      repo    = \"https://kubernetes.github.io/ingress-nginx\"\n      version = \"4.11.1\"\n    }\n    longhorn = { chart = \"longhorn\", version = \"1.6.2\" }\n    bare = { chart = \"bare\" }\n  }\n}\n";
    let files = sources(&[("modules/addons/main.tf", ADDONS), ("live/main.tf", caller)]);
    let scan = scan_checked(&files);
    let at = |key: &str| format!("module.platform.helm_release.addons[\"{key}\"]");
    assert_eq!(
        addressed(&scan),
        [
            pin(
                "live/main.tf",
                7,
                "ingress-nginx",
                Some("4.11.1"),
                &at("ingress-nginx")
            ),
            pin(
                "live/main.tf",
                9,
                "longhorn",
                Some("1.6.2"),
                &at("longhorn")
            ),
            pin("modules/addons/main.tf", 6, "bare", None, &at("bare")),
        ]
    );
    let charts: Vec<_> = scan.pins.iter().map(|p| p.chart.as_deref()).collect();
    assert_eq!(
        charts,
        [Some("ingress-nginx"), Some("longhorn"), Some("bare")]
    );
    assert_eq!(
        scan.pins[0].repository.as_deref(),
        Some("https://kubernetes.github.io/ingress-nginx")
    );
    assert_eq!(scan.pins[1].repository, None);
    let reason = scan.pins[2].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("no key version"), "{reason}");
}

#[test]
fn for_each_sources_and_fallbacks() {
    let map =
        "{\n    a = { name = \"first\", version = \"1.0.0\" }\n    b = { name = \"second\" }\n  }";
    // (definition, for_each, version, version of b); a's is always its own.
    let cases = [
        ("locals {\n  m", "local.m", "each.value.version", None),
        (
            "variable \"m\" {\n  default",
            "var.m",
            "each.value[\"version\"]",
            None,
        ),
        (
            "locals {\n  m",
            "local.m",
            "lookup(each.value, \"version\", \"9.0.0\")",
            Some("9.0.0"),
        ),
        (
            "variable \"m\" {\n  default",
            "var.m",
            "try(each.value.version, \"9.0.0\")",
            Some("9.0.0"),
        ),
    ];
    for (definition, for_each, version, b) in cases {
        let text = format!(
            "{definition} = {map}\n}}\nresource \"helm_release\" \"this\" {{\n  for_each = {for_each}\n  name     = each.value.name\n  chart    = \"c\"\n  version  = {version}\n}}\n"
        );
        let files = sources(&[("main.tf", &text)]);
        let scan = scan_checked(&files);
        assert_eq!(
            addressed(&scan),
            [
                pin(
                    "main.tf",
                    3,
                    "first",
                    Some("1.0.0"),
                    "helm_release.this[\"a\"]"
                ),
                pin("main.tf", 11, "second", b, "helm_release.this[\"b\"]"),
            ],
            "{text}"
        );
    }
}

#[test]
fn a_for_each_release_without_version_is_unpinned_per_instance() {
    // The map carries versions the release never passes on (zimagi).
    let text = "variable \"over\" {\n  type = any\n}\nlocals {\n  charts = {\n    argocd = {\n      name    = lookup(var.over, \"name\", \"argo-cd\")\n      chart   = lookup(var.over, \"chart\", \"argo-cd\")\n      version = lookup(var.over, \"version\", \"4.10.6\")\n    }\n  }\n}\nresource \"helm_release\" \"this\" {\n  for_each = local.charts\n  name     = each.value.name\n  chart    = each.value.chart\n}\n";
    let files = sources(&[("main.tf", text)]);
    let scan = scan_checked(&files);
    assert_eq!(
        addressed(&scan),
        [pin(
            "main.tf",
            13,
            "argo-cd",
            None,
            "helm_release.this[\"argocd\"]"
        )]
    );
    assert_eq!(scan.pins[0].chart.as_deref(), Some("argo-cd"));
}

#[test]
fn for_each_that_cannot_be_read_and_sets_of_names() {
    let text = "resource \"helm_release\" \"computed\" {\n  for_each = { for k, v in var.x : k => v }\n  chart    = \"c\"\n  version  = \"1.0.0\"\n}\nresource \"helm_release\" \"set\" {\n  for_each = toset([\"a\", \"b\"])\n  name     = each.value\n  chart    = each.key\n  version  = \"2.0.0\"\n}\n";
    let files = sources(&[("main.tf", text)]);
    let scan = scan_checked(&files);
    assert_eq!(
        addressed(&scan),
        [
            pin("main.tf", 1, "computed", None, "helm_release.computed"),
            pin("main.tf", 10, "a", Some("2.0.0"), "helm_release.set[\"a\"]"),
            pin("main.tf", 10, "b", Some("2.0.0"), "helm_release.set[\"b\"]"),
        ]
    );
    let reason = scan.pins[0].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("for_each is not a written map"), "{reason}");
}

const ARGOCD: &str = "resource \"helm_release\" \"argocd\" {\n  chart   = \"argo-cd\"\n  version = try(var.argocd.chart_version, \"5.55.0\")\n}\nresource \"helm_release\" \"kargo\" {\n  chart   = \"kargo\"\n  version = coalesce(var.kargo, \"1.2.3\")\n}\nresource \"helm_release\" \"redis\" {\n  chart   = \"redis\"\n  version = lookup(var.versions, \"redis\", \"18.0.0\")\n}\nvariable \"argocd\" {\n  default = null\n}\nvariable \"kargo\" {\n  default = null\n}\nvariable \"versions\" {\n  type = map(string)\n}\n";

#[test]
fn module_input_fallbacks_and_the_callers_overriding_them() {
    let files = sources(&[
        ("modules/platform/main.tf", ARGOCD),
        // Overrides all three.
        ("dev/main.tf", "module \"platform\" {\n  source   = \"../modules/platform\"\n  argocd   = { chart_version = \"5.46.0\" }\n  kargo    = \"4.2.0\"\n  versions = { redis = \"18.1.0\" }\n}\n"),
        // Passes only a variable that is null: nothing to add.
        ("prod/main.tf", "module \"platform\" {\n  source = \"../modules/platform\"\n  kargo  = var.kargo\n}\nvariable \"kargo\" {\n  default = null\n}\n"),
    ]);
    let scan = scan_checked(&files);
    let dev = "module.platform.helm_release";
    assert_eq!(
        addressed(&scan),
        [
            pin(
                "dev/main.tf",
                3,
                "argocd",
                Some("5.46.0"),
                &format!("{dev}.argocd")
            ),
            pin(
                "modules/platform/main.tf",
                3,
                "argocd",
                Some("5.55.0"),
                &format!("{dev}.argocd")
            ),
            pin(
                "dev/main.tf",
                4,
                "kargo",
                Some("4.2.0"),
                &format!("{dev}.kargo")
            ),
            pin(
                "modules/platform/main.tf",
                7,
                "kargo",
                Some("1.2.3"),
                &format!("{dev}.kargo")
            ),
            pin(
                "dev/main.tf",
                5,
                "redis",
                Some("18.1.0"),
                &format!("{dev}.redis")
            ),
            pin(
                "modules/platform/main.tf",
                11,
                "redis",
                Some("18.0.0"),
                &format!("{dev}.redis")
            ),
        ]
    );
}

#[test]
fn fallbacks_after_a_written_value_never_deploy() {
    let text = "locals {\n  v = \"1.0.0\"\n}\nresource \"helm_release\" \"x\" {\n  chart   = \"x\"\n  version = coalesce(local.v, \"9.9.9\")\n}\nresource \"helm_release\" \"y\" {\n  chart   = \"y\"\n  version = coalesce(null, var.nope, module.m.v)\n}\n";
    let scan = scan_checked(&sources(&[("main.tf", text)]));
    assert_eq!(
        summary(&scan),
        [
            row("main.tf", 2, "x", Some("1.0.0")),
            row("main.tf", 10, "y", None)
        ]
    );
    let reason = scan.pins[1].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("no argument of coalesce() is known"),
        "{reason}"
    );
}

const JSON_MODULE: &str = "resource \"helm_release\" \"this\" {\n  chart      = coalesce(var.chart, local.defaults.chart)\n  repository = local.defaults.repository\n  version    = coalesce(var.chart_version, local.defaults.version)\n}\nlocals {\n  defaults = jsondecode(file(\"${path.module}/chart.json\"))\n}\nvariable \"chart\" {\n  default = null\n}\nvariable \"chart_version\" {\n  default = null\n}\n";
const CHART_JSON: &str = "{\n  \"chart\": \"aws-load-balancer-controller\",\n  \"repository\": \"https://aws.github.io/eks-charts\",\n  \"version\": \"1.16.0\"\n}\n";

#[test]
fn chart_defaults_read_from_json_are_edited_in_place() {
    let files = sources(&[
        ("modules/lbc/main.tf", JSON_MODULE),
        ("modules/lbc/chart.json", CHART_JSON),
        (
            "main.tf",
            "module \"lbc\" {\n  source = \"./modules/lbc\"\n}\n",
        ),
        // Read by nobody: ignored, even though it is not JSON at all.
        ("modules/lbc/other.json", "{ not json"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        addressed(&scan),
        [pin(
            "modules/lbc/chart.json",
            4,
            "this",
            Some("1.16.0"),
            "module.lbc.helm_release.this"
        )]
    );
    assert_eq!(
        scan.pins[0].chart.as_deref(),
        Some("aws-load-balancer-controller")
    );
    assert_eq!(
        scan.pins[0].repository.as_deref(),
        Some("https://aws.github.io/eks-charts")
    );

    let opts = DiscoverOptions::default();
    let pins = scan_files(&files, &opts).pins;
    let (edited, _) = edit::plan(&files, &pins, "1.17.0", &opts).unwrap_or_else(|e| panic!("{e}"));
    for (before, after) in files.iter().zip(&edited) {
        let want = if before.path == "modules/lbc/chart.json" {
            CHART_JSON.replace("1.16.0", "1.17.0")
        } else {
            before.text.clone()
        };
        assert_eq!(after.text, want, "{}", before.path);
    }
}

#[test]
fn json_that_cannot_be_read_is_a_reason() {
    let too_big = format!(
        "{{\"version\": \"1.0.0\", \"pad\": \"{}\"}}",
        "x".repeat(json::MAX_JSON_BYTES)
    );
    let cases = [
        (None, "is not in the repository"),
        (Some(too_big.as_str()), "larger than"),
        (Some("{\"version\": 1}"), "not a string"),
        (Some("{\"chart\": \"c\"}"), "no key version"),
    ];
    for (json, want) in cases {
        let mut list = vec![("m/main.tf", JSON_MODULE)];
        list.extend(json.map(|text| ("m/chart.json", text)));
        let scan = scan_checked(&sources(&list));
        let versions: Vec<_> = scan.pins.iter().map(|p| p.version.clone()).collect();
        assert_eq!(versions, [None], "{want}");
        let reason = scan.pins[0].reason.as_deref().unwrap_or_default();
        assert!(reason.contains(want), "{want}: {reason}");
    }
}

#[test]
fn addresses_nest_through_calls_and_stop_at_cycles() {
    let release = "resource \"helm_release\" \"x\" {\n  chart   = \"x\"\n  version = var.v\n}\nvariable \"v\" {\n  default = \"1.0.0\"\n}\n";
    let files = sources(&[
        ("modules/b/main.tf", release),
        ("modules/a/main.tf", "module \"b\" {\n  source = \"../b\"\n  v      = var.v\n}\nvariable \"v\" {}\n"),
        ("live/main.tf", "module \"a\" {\n  source = \"../modules/a\"\n  v      = \"2.0.0\"\n}\n"),
        // A module calling itself adds nothing to its address.
        ("self/main.tf", "module \"again\" {\n  source = \"./\"\n}\nresource \"helm_release\" \"s\" {\n  chart   = \"s\"\n  version = \"3.0.0\"\n}\n"),
    ]);
    let scan = scan_checked(&files);
    assert_eq!(
        addressed(&scan),
        [
            // The default deploys wherever no caller passes `v`; the
            // literal is one pin, named by the first chain of callers.
            pin(
                "modules/b/main.tf",
                6,
                "x",
                Some("1.0.0"),
                "module.a.module.b.helm_release.x"
            ),
            pin(
                "live/main.tf",
                3,
                "x",
                Some("2.0.0"),
                "module.a.module.b.helm_release.x"
            ),
            pin("self/main.tf", 6, "s", Some("3.0.0"), "helm_release.s"),
        ]
    );
}

#[test]
fn huge_for_each_maps_are_refused_whole() {
    let entries: String = (0..=256)
        .map(|i| format!("    k{i} = {{ version = \"1.0.{i}\" }}\n"))
        .collect();
    let text = format!("locals {{\n  m = {{\n{entries}  }}\n}}\nresource \"helm_release\" \"r\" {{\n  for_each = local.m\n  chart    = \"c\"\n  version  = each.value.version\n}}\n");
    let scan = scan_checked(&sources(&[("main.tf", &text)]));
    assert_eq!(scan.pins.len(), 1);
    let reason = scan.pins[0].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("more than 256 elements"), "{reason}");
}

/// The walk reads a JSON file only when Terraform names it: an unrelated
/// one that cannot even be read as text raises no warning, and `discover`
/// and `collect` see the referenced one alike, so `edit` can rewrite it.
#[test]
fn the_walk_reads_only_json_that_terraform_reads() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    let write = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{e}"));
    };
    write("modules/lbc/main.tf", JSON_MODULE.as_bytes());
    write("modules/lbc/chart.json", CHART_JSON.as_bytes());
    write(
        "main.tf",
        b"module \"lbc\" {\n  source = \"./modules/lbc\"\n}\n",
    );
    write("dashboards/big.json", b"\xff\xfe not text");
    let opts = DiscoverOptions::default();
    let found = crate::pins::discover(root, &opts).unwrap_or_else(|e| panic!("{e}"));
    let (files, warnings) = crate::pins::collect(root).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        warnings.is_empty() && found.warnings.is_empty(),
        "{warnings:?}"
    );
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"modules/lbc/chart.json"), "{paths:?}");
    assert!(!paths.contains(&"dashboards/big.json"), "{paths:?}");
    assert_eq!(found.pins, scan_files(&files, &opts).pins);
    assert_eq!(found.pins.len(), 1);
    assert_eq!(found.pins[0].file, "modules/lbc/chart.json");
}
