#!/usr/bin/env python3
"""Renders the chartpilot chart with Helm's own library and checks the result.

Run by scripts/validate-deploy.sh inside its venv (helm-python-sdk,
kubernetes-validate, cloudcoil-models-prometheus-operator). For each values
set in deploy/chart/chartpilot/ci/*-values.yaml it:

- lints the chart (helm lint --strict) and validates the values against
  values.schema.json with Helm's validator;
- renders it offline and validates every object: core kinds against the
  Kubernetes OpenAPI schemas (strict: unknown fields fail), ServiceMonitor
  and PrometheusRule against the prometheus-operator CRD models;
- checks what each shape promises (replicas, strategy, RBAC verbs, pod
  security) and writes the rendered config.toml and alert rules under OUT
  for the Rust test (tests/deploy.rs) and promtool.

The invalid values under ci/invalid/ must each be refused.
"""
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml
from cloudcoil.models.prometheus_operator import v1 as promop

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy/chart/chartpilot"
RELEASE = "chartpilot"
NAMESPACE = "chartpilot"
# The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version()]
CRD_MODELS = {"ServiceMonitor": promop.ServiceMonitor, "PrometheusRule": promop.PrometheusRule}

failures = []


def fail(where, msg):
    failures.append(f"{where}: {msg}")
    print(f"FAIL {where}: {msg}", file=sys.stderr)


def unknown_keys(given, kept, path=""):
    """Keys in `given` that the model did not keep: pydantic drops unknown
    fields silently, so compare the input with the model's dump."""
    out = []
    if isinstance(given, dict) and isinstance(kept, dict):
        for k, v in given.items():
            if k not in kept:
                out.append(f"{path}.{k}")
            else:
                out += unknown_keys(v, kept[k], f"{path}.{k}")
    elif isinstance(given, list) and isinstance(kept, list):
        for n, (a, b) in enumerate(zip(given, kept)):
            out += unknown_keys(a, b, f"{path}[{n}]")
    return out


def validate_object(where, obj):
    kind = obj.get("kind")
    if obj.get("apiVersion", "").startswith("monitoring.coreos.com/"):
        model = CRD_MODELS.get(kind)
        if model is None:
            return fail(where, f"no schema for {kind}")
        try:
            parsed = model.model_validate(obj)
        except Exception as e:  # pydantic.ValidationError
            return fail(where, f"{kind} does not match the prometheus-operator CRD: {e}")
        extra = unknown_keys(obj, parsed.model_dump(by_alias=True, exclude_none=True, mode="json"))
        if extra:
            fail(where, f"{kind} has fields the CRD does not define: {extra}")
        return
    for version in KUBE_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            fail(where, f"{kind} invalid for Kubernetes {version}: {'.'.join(map(str, e.path))}: {e.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
            fail(where, f"{kind}: {e}")


def render(chart, values):
    manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append((path, doc))
    return objects, manifests.get(f"{RELEASE}/templates/NOTES.txt", "")


def by_kind(objects, kind):
    return [o for _, o in objects if o["kind"] == kind]


def check_pods(where, objects):
    for d in by_kind(objects, "Deployment"):
        pod = d["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        if psc.get("runAsUser") != 65532 or not psc.get("runAsNonRoot") or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            fail(where, f"{d['metadata']['name']}: pod securityContext {psc}")
        for c in pod["containers"]:
            sc = c["securityContext"]
            if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False or sc.get("capabilities", {}).get("drop") != ["ALL"]:
                fail(where, f"{d['metadata']['name']}: container securityContext {sc}")
            if c["livenessProbe"]["httpGet"]["path"] != "/healthz" or c["readinessProbe"]["httpGet"]["path"] != "/readyz":
                fail(where, "probes must be /healthz and /readyz")
            if "resources" not in c:
                fail(where, "container without resources")
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            if not {"/tmp", "/var/lib/chartpilot", "/etc/chartpilot"} <= mounts:
                fail(where, f"mounts {mounts}")


def check_shape(name, objects):
    deployments = {d["metadata"]["name"]: d for d in by_kind(objects, "Deployment")}
    if name == "all-in-one":
        d = deployments.get(RELEASE)
        if not d or d["spec"]["replicas"] != 1 or d["spec"]["strategy"]["type"] != "Recreate":
            fail(name, "all-in-one must be one Deployment, replicas 1, Recreate")
        elif "all" not in d["spec"]["template"]["spec"]["containers"][0]["args"]:
            fail(name, "all-in-one must run --role all")
        if len(by_kind(objects, "PersistentVolumeClaim")) != 1:
            fail(name, "all-in-one needs its PVC")
    if name == "scaled":
        if set(deployments) != {f"{RELEASE}-receiver", f"{RELEASE}-worker"}:
            fail(name, f"deployments {sorted(deployments)}")
        if len(by_kind(objects, "PodDisruptionBudget")) != 2 or len(by_kind(objects, "HorizontalPodAutoscaler")) != 1:
            fail(name, "scaled needs two PDBs and the receiver HPA")
        if by_kind(objects, "PersistentVolumeClaim"):
            fail(name, "scaled must not claim a volume")
        sa = by_kind(objects, "ServiceAccount")[0]
        if "azure.workload.identity/client-id" not in sa["metadata"].get("annotations", {}):
            fail(name, "workload identity annotation missing")
    if name == "kube-ingress-netpol":
        roles = by_kind(objects, "Role")
        want = [{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get", "list", "watch", "patch"]}]
        if len(roles) != 1 or roles[0]["rules"] != want or roles[0]["metadata"]["namespace"] != "argocd":
            fail(name, f"Role must allow only get/list/watch/patch on applications in argocd: {roles}")
        if len(by_kind(objects, "RoleBinding")) != 1:
            fail(name, "RoleBinding missing")
        ing = by_kind(objects, "Ingress")
        if len(ing) != 1 or not ing[0]["spec"].get("tls") or ing[0]["spec"].get("ingressClassName") != "webapprouting.kubernetes.azure.com":
            fail(name, "Ingress with class and TLS missing")
        if len(by_kind(objects, "NetworkPolicy")) != 1:
            fail(name, "NetworkPolicy missing")
    elif by_kind(objects, "Role"):
        fail(name, "RBAC only for argocd.mode = kube")
    for kind in ["ConfigMap", "Service", "ServiceAccount", "ServiceMonitor", "PrometheusRule"]:
        if not by_kind(objects, kind):
            fail(name, f"no {kind}")


DASHBOARD = ROOT / "deploy/grafana/chartpilot.json"


def dashboards(objects):
    return [c for c in by_kind(objects, "ConfigMap") if "chartpilot.json" in c.get("data", {})]


def check_dashboard(where, objects):
    """The Grafana dashboard ConfigMap: the sidecar's label, and the very
    file deploy/grafana/chartpilot.json (the chart carries a copy)."""
    found = dashboards(objects)
    if len(found) != 1:
        return fail(where, f"expected one Grafana dashboard ConfigMap, found {len(found)}")
    cm = found[0]
    if cm["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
        fail(where, f"dashboard ConfigMap without the sidecar label grafana_dashboard: \"1\": {cm['metadata']}")
    if cm["data"]["chartpilot.json"].rstrip("\n") != DASHBOARD.read_text().rstrip("\n"):
        fail(where, "the dashboard ConfigMap differs from deploy/grafana/chartpilot.json")


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    sets = sorted(CHART.glob("ci/*-values.yaml"))
    if len(sets) < 3:
        fail("ci", f"expected at least three values sets, found {len(sets)}")
    with helm.Chart.load(str(CHART)) as chart:
        for path in sets:
            name = path.name.removesuffix("-values.yaml")
            values = yaml.safe_load(path.read_text())
            report = helm.lint(str(CHART), values, strict=True)
            for m in report["messages"]:
                if m["severity"] >= 2:
                    fail(name, f"helm lint: {m['path']}: {m['error']}")
            for e in report.get("errors") or []:
                fail(name, f"helm lint: {e}")
            try:
                chart.validate_schema(values)
            except helm.HelmError as e:
                fail(name, f"values refused by values.schema.json: {e}")
                continue
            objects, notes = render(chart, values)
            for where, obj in objects:
                validate_object(f"{name}/{where.split('/')[-1]}", obj)
            check_pods(name, objects)
            check_shape(name, objects)
            if "/webhooks/github" not in notes:
                fail(name, "NOTES.txt does not name the webhook URLs")
            (out / name).mkdir(exist_ok=True)
            cm = next(c for c in by_kind(objects, "ConfigMap") if "config.toml" in c.get("data", {}))
            (out / name / "config.toml").write_text(cm["data"]["config.toml"])
            check_dashboard(name, objects)
            rules = by_kind(objects, "PrometheusRule")
            if rules:
                (out / name / "rules.yaml").write_text(yaml.safe_dump({"groups": rules[0]["spec"]["groups"]}, sort_keys=False))
            print(f"ok   {name}: {len(objects)} objects valid ({', '.join(sorted({o['kind'] for _, o in objects}))})")

        # Defaults: renders, and "auto" monitoring stays off without the CRDs
        # (offline rendering has no monitoring.coreos.com/v1 capability).
        objects, _ = render(chart, {})
        for where, obj in objects:
            validate_object(f"defaults/{where.split('/')[-1]}", obj)
        if by_kind(objects, "ServiceMonitor") or by_kind(objects, "PrometheusRule"):
            fail("defaults", "serviceMonitor/prometheusRule 'auto' rendered without the CRDs")
        check_dashboard("defaults", objects)
        print(f"ok   defaults: {len(objects)} objects valid, no prometheus-operator objects without the CRDs")
        objects, _ = render(chart, {"grafanaDashboard": {"enabled": False}})
        if dashboards(objects):
            fail("grafanaDashboard.enabled=false", "the dashboard ConfigMap is still rendered")
        objects, _ = render(chart, {"grafanaDashboard": {"namespace": "monitoring", "labels": {"dash": "yes"}}})
        [cm] = dashboards(objects)
        if cm["metadata"]["namespace"] != "monitoring" or cm["metadata"]["labels"].get("dash") != "yes":
            fail("grafanaDashboard", f"namespace and labels not applied: {cm['metadata']}")
        print("ok   grafanaDashboard: on by default with the sidecar label, off and relabelled on request")

        for path in sorted(CHART.glob("ci/invalid/*.yaml")):
            try:
                chart.validate_schema(yaml.safe_load(path.read_text()))
            except helm.HelmError as e:
                print(f"ok   {path.name} refused by Helm: {' '.join(str(e).split())[:200]}")
            else:
                fail(path.name, "accepted, but must be refused by values.schema.json")
    if failures:
        sys.exit(f"{len(failures)} deploy validation failure(s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
