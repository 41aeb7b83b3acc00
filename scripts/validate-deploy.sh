#!/usr/bin/env bash
# Validates deploy/: the Helm chart rendered by real Helm for every values
# set in deploy/chart/chartpilot/ci/, every object against the Kubernetes and
# prometheus-operator schemas, the alert rules with promtool (check + unit
# tests), the values files against values.schema.json (and the invalid ones
# refused). tests/deploy.rs then loads the rendered config.toml files with
# Settings::load and scans deploy/terraform for the chart pin.
#
# Needs only Debian and Rust: installs python3-venv and prometheus
# (promtool) with apt, and the Python tools into a venv under
# ${CHARTPILOT_CACHE:-~/.cache/chartpilot}. Output: target/deploy-validate/.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${CHARTPILOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chartpilot}/validate-deploy"
VENV="$CACHE/venv"
OUT="target/deploy-validate"
REQS="scripts/validate-deploy.requirements.txt"
CHART="deploy/chart/chartpilot"
started=$SECONDS

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo "$@"; else
      echo "validate-deploy: need root to run: $*" >&2; exit 1; fi
  else "$@"; fi
}

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "validate-deploy: installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d keeps the prometheus package from starting its server.
  need_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  need_root apt-get update -qq
  need_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  need_root rm -f /usr/sbin/policy-rc.d
fi

# The venv is rebuilt when the pinned requirements change.
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQS" "$VENV/requirements.txt"; then
  echo "validate-deploy: creating $VENV" >&2
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$VENV/requirements.txt"
fi

rm -rf "$OUT"
mkdir -p "$OUT"

echo "== values.schema.json is generated from scripts/gen_values_schema.py"
"$VENV/bin/python" scripts/gen_values_schema.py --check

echo "== check-jsonschema: ci values accepted, invalid values refused"
"$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$CHART/values.yaml" "$CHART"/ci/*-values.yaml
for bad in "$CHART"/ci/invalid/*.yaml; do
  if "$VENV/bin/check-jsonschema" --schemafile "$CHART/values.schema.json" "$bad" >"$OUT/refused.log" 2>&1; then
    echo "validate-deploy: $bad was accepted by values.schema.json; it must be refused" >&2; exit 1
  fi
  echo "refused as it must be: $bad ($(grep -m1 -o "Additional properties.*" "$OUT/refused.log" || echo invalid))"
done

echo "== helm (helm-python-sdk): lint, render, validate every object"
"$VENV/bin/python" scripts/validate_deploy.py "$OUT"

echo "== promtool: alert rules from the rendered PrometheusRule"
rules_dir="$OUT/all-in-one"
cp "$CHART/ci/rules-test.yaml" "$rules_dir/"
promtool check rules "$rules_dir/rules.yaml"
promtool test rules "$rules_dir/rules-test.yaml"

echo "== grafana dashboard: every metric it queries is one chartpilot serves (tests/grafana.rs also scrapes a running service and runs promtool on each expression)"
cmp deploy/grafana/chartpilot.json "$CHART/dashboards/chartpilot.json" || { echo "validate-deploy: $CHART/dashboards/chartpilot.json must be a copy of deploy/grafana/chartpilot.json" >&2; exit 1; }
"$VENV/bin/python" - <<'PY'
import glob, json, re, sys
dash = json.load(open("deploy/grafana/chartpilot.json"))
source = "".join(open(f).read() for f in glob.glob("src/metrics/*.rs"))
metrics = set(re.findall(r'"(\w+)"', source))
# register_with_unit(.., Unit::Seconds, ..) appends _seconds.
served = {f"chartpilot_{m}{u}" for m in metrics for u in ("", "_seconds")}
bad = []
for panel in dash["panels"]:
    for t in panel.get("targets", []):
        for name in re.findall(r"\bchartpilot_\w+", t["expr"]):
            base = re.sub(r"_(total|bucket|sum|count)$", "", name)
            if base not in served:
                bad.append(f"{panel['title']}: {name}")
if bad:
    sys.exit(f"dashboard queries unknown metrics: {bad}")
print(f"{len(dash['panels'])} panels, all on chartpilot's metrics")
PY

echo "validate-deploy: ok in $((SECONDS - started))s (rendered config under $OUT for tests/deploy.rs)"
