#!/usr/bin/env python3
"""Deterministic GitOps repository with a given number of Helm chart pins.

Builds, under --out DIR/repo, a repository shaped like a large platform team's:

  terraform/environments/<env>/   root module per environment:
      releases-<team>.tf          helm_release blocks, version as a literal,
                                  as var.x with a default (variables.tf), or
                                  as var.x set in terraform.tfvars
      addons.tf                   module calls passing chart_version
      .terraform/modules/         what `terraform init` leaves (not pins)
  terraform/modules/<addon>/      helm_release with version = var.chart_version
  terraform/platform/             one root module, a tfvars per environment
      envs/<env>.tfvars           (one pin per environment and release)
  argocd/apps/<env>/<team>.yaml   multi-document files of Applications
                                  (single source, `sources:` with a values
                                  ref, two charts, git paths), AppProjects
  argocd/appsets/<env>/<team>.yaml ApplicationSets: list generators with one
                                  version per cluster, cluster generators
  charts/<name>/                  Chart.yaml dependencies (some file://),
                                  requirements.yaml (Helm 2), values.yaml,
                                  templates/, vendored charts/ (not pins)
  values/<chart>/<env>.yaml       Helm values (not pins)

Every pin is recorded in DIR/expected.json (outside the repository) the way `chartpilot scan --format
json` reports it (file, line, kind, name, env, repository, chart, version),
with totals by kind and by how the version is written.

python3 stdlib only. Same arguments => byte-identical output.
"""
import argparse
import json
import os
import random
import shutil

TEAMS = ("platform identity payments search data edge mobile observability "
         "security billing growth ledger").split()
WORDS_A = ("amber azure birch cedar cobalt coral delta ember fern flint frost "
           "garnet harbor indigo ivory jade juniper kelp lunar maple marble "
           "nova onyx opal orbit pearl quartz raven sable slate solar tidal "
           "umber vapor willow zephyr").split()
WORDS_B = ("api auth billing cache catalog checkout gateway ingest ledger "
           "mailer metrics notifier orders payments profile queue ranker "
           "router scheduler search session shipping signer storage tracker "
           "uploader vault web worker").split()
ADDONS = ("argo-cd cert-manager ingress-nginx external-dns external-secrets "
          "kube-prometheus-stack loki tempo grafana velero keda kyverno "
          "cluster-autoscaler metrics-server reloader trivy-operator "
          "aws-load-balancer-controller karpenter cilium istiod").split()
DEPS = ("postgresql redis mongodb kafka rabbitmq memcached elasticsearch "
        "minio common nginx zookeeper etcd cassandra mariadb clickhouse "
        "keycloak vault consul nats").split()
REGIONS = "eu-west-1 eu-central-1 us-east-1 us-west-2 ap-south-1".split()

# Share of the pins per way of writing them; the rest goes to literals.
SHARES = {
    "terraform-literal": 0.16,
    "terraform-var-default": 0.07,
    "terraform-tfvars": 0.06,
    "terraform-platform-tfvars": 0.05,
    "terraform-module-input": 0.04,
    "argocd-application": 0.30,
    "argocd-applicationset": 0.12,
    "chart-dependency": 0.20,
}


class Text:
    """A file being written line by line, so pins know their line."""

    def __init__(self):
        self.lines = []

    def add(self, *lines):
        self.lines.extend(lines)

    @property
    def next_line(self):
        return len(self.lines) + 1

    def render(self):
        return "\n".join(self.lines) + "\n"


class Repo:
    def __init__(self, rng, envs):
        self.rng = rng
        self.envs = envs
        self.files = {}  # path -> Text or str
        self.pins = []
        self.names = set()

    def text(self, path):
        return self.files.setdefault(path, Text())

    def pin(self, style, kind, file, line, name, env, repository, chart, version):
        self.pins.append({"file": file, "line": line, "kind": kind, "name": name, "env": env,
                          "repository": repository, "chart": chart, "version": version,
                          "style": style})

    def unique(self, base):
        name, n = base, 2
        while name in self.names:
            name, n = f"{base}-{n}", n + 1
        self.names.add(name)
        return name

    def version(self):
        r = self.rng
        major = r.choice((0, 1, 1, 2, 3, 4, 5, 7, 12, 25, 45))
        v = f"{major}.{r.randint(0, 40)}.{r.randint(0, 20)}"
        return ("v" + v) if r.random() < 0.15 else v

    def chart_name(self):
        r = self.rng
        return self.unique(f"{r.choice(WORDS_A)}-{r.choice(WORDS_B)}")

    def helm_repo(self, team):
        r = self.rng.random()
        if r < 0.2:
            return f"oci://registry.example.com/{team}/charts"
        if r < 0.3:
            return "https://charts.bitnami.com/bitnami"
        return f"https://charts.{team}.example.com"

    def comment(self):
        return self.rng.choice((
            "# Owned by the team named in CODEOWNERS; bump through chartpilot.",
            "# Keep in step with the staging pin before promoting.",
            "# Values live next to the release; see values/.",
            "# NOTE: upgrading past the next major needs the CRD migration.",
            "# Rollback: revert this line, Argo CD / Terraform does the rest.",
        ))


def values_yaml(rng, chart, lines):
    out = [f"# Values for {chart}", "replicaCount: %d" % rng.randint(1, 5), "image:",
           f"  repository: registry.example.com/{chart}", f"  tag: \"{rng.randint(1, 9)}.{rng.randint(0, 30)}.0\"",
           "  pullPolicy: IfNotPresent", "resources:", "  requests:", f"    cpu: {rng.randint(50, 900)}m",
           f"    memory: {rng.randint(64, 2048)}Mi", "  limits:", f"    memory: {rng.randint(128, 4096)}Mi"]
    i = 0
    while len(out) < lines:
        i += 1
        out += [f"feature{i}:", f"  enabled: {rng.choice(('true', 'false'))}",
                f"  # tuning knob {i}; defaults are fine for most environments",
                f"  threshold: {rng.randint(1, 1000)}", "  annotations:",
                f"    example.com/owner: team-{rng.choice(TEAMS)}"]
    return "\n".join(out) + "\n"


# --- Terraform --------------------------------------------------------------------------

def tf_release(repo, t, rname, chart, repository, version_expr, version_line_cb):
    """Writes one helm_release; calls version_line_cb(line) with the line of `version`."""
    r = repo.rng
    if r.random() < 0.4:
        t.add(repo.comment())
    t.add(f'resource "helm_release" "{rname}" {{',
          f'  name             = "{chart}"',
          f'  namespace        = "{chart}"',
          "  create_namespace = true")
    before = r.random() < 0.25
    if before:
        if r.random() < 0.3:
            t.add('  # version        = "0.0.1" # the old pin, kept for reference')
        version_line_cb(t.next_line)
        t.add(f"  version          = {version_expr}")
    t.add(f'  repository       = "{repository}"', f'  chart            = "{chart}"')
    if not before:
        if r.random() < 0.2:
            t.add("  # chartpilot: auto-upgrade minor")
        version_line_cb(t.next_line)
        trailer = "  # pinned after INC-%d" % r.randint(100, 999) if r.random() < 0.15 else ""
        t.add(f"  version          = {version_expr}{trailer}")
    t.add(f"  timeout          = {r.choice((300, 600, 900))}", "  atomic           = true", "")
    if r.random() < 0.5:
        t.add("  values = [", f'    file("${{path.module}}/values/{chart}.yaml"),', "  ]")
    else:
        t.add("  values = [<<-EOT", "    resources:", "      requests:",
              f"        cpu: {r.randint(50, 900)}m", "    podAnnotations:",
              f"      example.com/team: {r.choice(TEAMS)}", "  EOT", "  ]")
    for k in range(r.randint(0, 3)):
        t.add("", "  set {", f'    name  = "setting{k}.enabled"', '    value = "true"', "  }")
    t.add("}", "")


def tf_env_header(repo, env):
    d = f"terraform/environments/{env}"
    if f"{d}/providers.tf" in repo.files:
        return d
    repo.files[f"{d}/providers.tf"] = (
        'terraform {\n  required_version = ">= 1.5.0"\n  required_providers {\n'
        '    helm = {\n      source  = "hashicorp/helm"\n      version = "~> 2.12"\n    }\n  }\n'
        f'  backend "s3" {{\n    bucket = "tfstate-{env}"\n    key    = "platform/{env}.tfstate"\n'
        '    region = "eu-west-1"\n  }\n}\n\n'
        f'provider "helm" {{\n  kubernetes {{\n    config_path    = "~/.kube/config"\n'
        f'    config_context = "eks-{env}"\n  }}\n}}\n')
    vt = repo.text(f"{d}/variables.tf")
    vt.add('variable "cluster_name" {', "  type    = string", f'  default = "eks-{env}"', "}", "")
    tv = repo.text(f"{d}/terraform.tfvars")
    tv.add(f"# Values for the {env} root module.", f'cluster_name = "eks-{env}"', "")
    return d


def terraform_env_releases(repo, budgets):
    """Literal, var-default and tfvars releases spread over the environments."""
    r = repo.rng
    todo = [("terraform-literal", budgets["terraform-literal"]),
            ("terraform-var-default", budgets["terraform-var-default"]),
            ("terraform-tfvars", budgets["terraform-tfvars"])]
    pool = [s for s, n in todo for _ in range(n)]
    r.shuffle(pool)
    file_no = {}
    i = 0
    while i < len(pool):
        env = repo.envs[r.randrange(len(repo.envs))]
        d = tf_env_header(repo, env)
        team = r.choice(TEAMS)
        file_no[(env, team)] = file_no.get((env, team), 0) + 1
        path = f"{d}/releases-{team}-{file_no[(env, team)]:02d}.tf"
        t = repo.text(path)
        t.add(f"# Helm releases of team {team} in {env}.", "")
        batch = pool[i:i + r.randint(3, 14)]
        i += len(batch)
        for style in batch:
            chart = repo.chart_name()
            rname = chart.replace("-", "_")
            repository = repo.helm_repo(team)
            version = repo.version()
            if style == "terraform-literal":
                def at(line, version=version, rname=rname, chart=chart, repository=repository):
                    # A release is named by its `name` attribute (the chart here).
                    repo.pin("terraform-literal", "terraform", path, line, chart, env,
                             repository, chart, version)
                tf_release(repo, t, rname, chart, repository, f'"{version}"', at)
                continue
            var = f"{rname}_chart_version"
            tf_release(repo, t, rname, chart, repository, f"var.{var}", lambda line: None)
            vt = repo.text(f"{d}/variables.tf")
            vt.add(f'variable "{var}" {{', f'  description = "Chart version of {chart}."',
                   "  type        = string")
            if style == "terraform-var-default":
                repo.pin(style, "terraform", f"{d}/variables.tf", vt.next_line, chart, env,
                         repository, chart, version)
                vt.add(f'  default     = "{version}"')
            vt.add("}", "")
            if style == "terraform-tfvars":
                tv = repo.text(f"{d}/terraform.tfvars")
                if r.random() < 0.2:
                    tv.add(f"# {chart}: see the release notes before a major bump")
                repo.pin(style, "terraform", f"{d}/terraform.tfvars", tv.next_line, chart, env,
                         repository, chart, version)
                tv.add(f'{var} = "{version}"')


def terraform_modules(repo, budget):
    """Local modules wrapping one addon, called from every environment with its version."""
    r = repo.rng
    envs = repo.envs
    n = 0
    while budget > 0:
        callers = envs[:min(len(envs), budget)]
        n += 1
        addon = ADDONS[(n - 1) % len(ADDONS)]
        addon = addon if n <= len(ADDONS) else f"{addon}-{(n - 1) // len(ADDONS)}"
        mdir = f"terraform/modules/{addon}"
        repository = repo.helm_repo("platform")
        main = Text()
        main.add(f"# Installs {addon} the same way everywhere.",
                 'resource "helm_release" "this" {', "  name             = var.release_name",
                 "  namespace        = var.namespace", "  create_namespace = true",
                 f'  repository       = "{repository}"', f'  chart            = "{addon}"',
                 "  version          = var.chart_version", "",
                 '  values = [yamlencode({ clusterName = var.cluster_name })]', "}")
        repo.files[f"{mdir}/main.tf"] = main
        repo.files[f"{mdir}/variables.tf"] = (
            f'variable "release_name" {{\n  type    = string\n  default = "{addon}"\n}}\n\n'
            f'variable "namespace" {{\n  type    = string\n  default = "{addon}"\n}}\n\n'
            'variable "cluster_name" {\n  type = string\n}\n\n'
            'variable "chart_version" {\n  description = "Helm chart version to install."\n'
            "  type        = string\n}\n")
        for env in callers:
            d = tf_env_header(repo, env)
            t = repo.text(f"{d}/addons.tf")
            version = repo.version()
            t.add(f'module "{addon.replace("-", "_")}" {{', f'  source        = "../../modules/{addon}"',
                  "  cluster_name  = var.cluster_name")
            repo.pin("terraform-module-input", "terraform", f"{d}/addons.tf", t.next_line, "this",
                     env, repository, addon, version)
            t.add(f'  chart_version = "{version}"', "}", "")
            budget -= 1
        if n == 1:
            # What `terraform init` leaves behind: a copy of the module, never a pin.
            d = f"terraform/environments/{envs[0]}/.terraform/modules/{addon.replace('-', '_')}"
            repo.files[f"{d}/main.tf"] = main.render().replace("var.chart_version", '"0.0.1"')


def terraform_platform(repo, budget):
    """One root module; each environment is a tfvars file beside it. Returns pins left over."""
    r = repo.rng
    envs = repo.envs
    releases = budget // len(envs)
    if releases == 0:
        return budget
    d = "terraform/platform"
    repo.files[f"{d}/providers.tf"] = (
        'terraform {\n  required_providers {\n    helm = {\n      source  = "hashicorp/helm"\n'
        '      version = "~> 2.12"\n    }\n  }\n}\n\nprovider "helm" {\n  kubernetes {\n'
        '    config_path = var.kubeconfig\n  }\n}\n')
    vt = repo.text(f"{d}/variables.tf")
    vt.add('variable "kubeconfig" {', "  type    = string", '  default = "~/.kube/config"', "}", "")
    tfvars = {env: repo.text(f"{d}/envs/{env}.tfvars") for env in envs}
    for env, tv in tfvars.items():
        tv.add(f"# terraform apply -var-file=envs/{env}.tfvars", f'kubeconfig = "~/.kube/{env}"', "")
    per_file = 0
    t = None
    for k in range(releases):
        if per_file == 0:
            team = TEAMS[k % len(TEAMS)]
            t = repo.text(f"{d}/{team}-{k:04d}.tf")
            per_file = r.randint(4, 16)
        per_file -= 1
        chart = repo.chart_name()
        rname = chart.replace("-", "_")
        repository = repo.helm_repo("platform")
        var = f"{rname}_version"
        tf_release(repo, t, rname, chart, repository, f"var.{var}", lambda line: None)
        vt.add(f'variable "{var}" {{', "  type = string", "}", "")
        for env, tv in tfvars.items():
            version = repo.version()
            repo.pin("terraform-platform-tfvars", "terraform", f"{d}/envs/{env}.tfvars", tv.next_line,
                     chart, env, repository, chart, version)
            tv.add(f'{var} = "{version}"')
    return budget - releases * len(envs)


# --- Argo CD ----------------------------------------------------------------------------

def app_header(t, kind, name, env, labelled, annotations=()):
    t.add("apiVersion: argoproj.io/v1alpha1", f"kind: {kind}", "metadata:", f"  name: {name}",
          "  namespace: argocd")
    if labelled:
        t.add("  labels:", f"    env: {env}", "    app.kubernetes.io/part-of: platform")
    if annotations:
        t.add("  annotations:", *annotations)


def argocd_applications(repo, budget):
    r = repo.rng
    file_no = {}
    while budget > 0:
        env = r.choice(repo.envs)
        team = r.choice(TEAMS)
        file_no[(env, team)] = file_no.get((env, team), 0) + 1
        path = f"argocd/apps/{env}/{team}-{file_no[(env, team)]:02d}.yaml"
        t = repo.text(path)
        t.add(f"# Applications of team {team} in {env}. One document per application.")
        docs = r.randint(3, 16)
        for j in range(docs):
            if budget <= 0:
                break
            if j:
                t.add("---")
            shape = r.random()
            if shape < 0.06:
                t.add("apiVersion: argoproj.io/v1alpha1", "kind: AppProject", "metadata:",
                      f"  name: {team}-{env}-{j}", "  namespace: argocd", "spec:",
                      f"  description: Applications of {team}", "  sourceRepos:", "  - '*'",
                      "  destinations:", "  - namespace: '*'", "    server: https://kubernetes.default.svc")
                continue
            chart = repo.chart_name()
            name = f"{chart}-{env}"
            labelled = r.random() < 0.8
            app_header(t, "Application", name, env, labelled,
                       ('    notifications.argoproj.io/subscribe.on-sync-failed.slack: alerts',)
                       if r.random() < 0.3 else ())
            t.add("spec:", f"  project: {team}", "  destination:",
                  "    server: https://kubernetes.default.svc", f"    namespace: {chart}")
            repository = repo.helm_repo(team)
            url = repository.removeprefix("oci://")
            if shape < 0.2:
                t.add("  source:", f"    repoURL: https://git.example.com/{team}/manifests.git",
                      f"    path: apps/{chart}/overlays/{env}", "    targetRevision: main")
            elif shape < 0.35:
                t.add("  sources:", f"  - repoURL: {url}", f"    chart: {chart}")
                version = repo.version()
                repo.pin("argocd-application", "argocd", path, t.next_line, name, env, url, chart, version)
                t.add(f"    targetRevision: {version}", "    helm:", "      valueFiles:",
                      f"      - $values/values/{chart}/{env}.yaml",
                      f"  - repoURL: https://git.example.com/{team}/gitops.git",
                      "    targetRevision: main", "    ref: values")
                budget -= 1
            elif shape < 0.4 and budget >= 2:
                t.add("  sources:")
                for c in (chart, repo.chart_name()):
                    version = repo.version()
                    t.add(f"    - repoURL: {url}", f"      chart: {c}")
                    repo.pin("argocd-application", "argocd", path, t.next_line, name, env, url, c, version)
                    t.add(f"      targetRevision: '{version}'", "      helm:", f"        releaseName: {c}")
                budget -= 2
            else:
                t.add("  source:", f"    repoURL: {url}", f"    chart: {chart}")
                if r.random() < 0.15:
                    t.add("    # targetRevision: 0.0.1  (the pin before the last upgrade)")
                version = repo.version()
                q = r.choice(("", "", "", '"', "'"))
                trailer = "  # chartpilot: auto" if r.random() < 0.2 else ""
                repo.pin("argocd-application", "argocd", path, t.next_line, name, env, url, chart, version)
                t.add(f"    targetRevision: {q}{version}{q}{trailer}", "    helm:",
                      f"      releaseName: {chart}", "      values: |", "        resources:",
                      "          requests:", f"            cpu: {r.randint(50, 900)}m")
                budget -= 1
            t.add("  syncPolicy:", "    automated:", "      prune: true", "      selfHeal: true",
                  "    syncOptions:", "    - CreateNamespace=true")


def argocd_application_sets(repo, budget):
    r = repo.rng
    file_no = {}
    while budget > 0:
        env = r.choice(repo.envs)
        team = r.choice(TEAMS)
        file_no[(env, team)] = file_no.get((env, team), 0) + 1
        path = f"argocd/appsets/{env}/{team}-{file_no[(env, team)]:02d}.yaml"
        t = repo.text(path)
        for j in range(r.randint(1, 5)):
            if budget <= 0:
                break
            if j:
                t.add("---")
            chart = repo.chart_name()
            repository = repo.helm_repo(team).removeprefix("oci://")
            name = f"{chart}-{env}"
            if r.random() < 0.2:
                # Cluster generator with a literal version: one pin, env from the selector.
                app_header(t, "ApplicationSet", name, env, False)
                t.add("spec:", "  generators:", "  - clusters:", "      selector:", "        matchLabels:",
                      f"          env: {env}", "  template:", "    metadata:",
                      f"      name: '{{{{name}}}}-{chart}'", "    spec:", f"      project: {team}",
                      "      source:", f"        repoURL: {repository}", f"        chart: {chart}")
                version = repo.version()
                repo.pin("argocd-applicationset", "argocd", path, t.next_line, name, env, repository,
                         chart, version)
                t.add(f"        targetRevision: {version}", "      destination:",
                      "        server: '{{server}}'", f"        namespace: {chart}")
                budget -= 1
                continue
            go = r.random() < 0.5
            ref = (lambda p: f"'{{{{.{p}}}}}'") if go else (lambda p: f"'{{{{{p}}}}}'")
            app_header(t, "ApplicationSet", name, env, False)
            t.add("spec:")
            if go:
                t.add("  goTemplate: true", "  goTemplateOptions: [\"missingkey=error\"]")
            t.add("  generators:", "  - list:", "      elements:")
            regions = r.sample(REGIONS, min(budget, r.randint(1, 4)))
            for region in regions:
                version = repo.version()
                t.add(f"      - cluster: {env}-{region}", f"        url: https://{env}-{region}.k8s.example.com",
                      f"        env: {env}")
                repo.pin("argocd-applicationset", "argocd", path, t.next_line, name, env, repository,
                         chart, version)
                t.add(f"        chartVersion: {version}")
                budget -= 1
            t.add("  template:", "    metadata:", f"      name: {ref('cluster')[:-1]}-{chart}'",
                  "      labels:", f"        env: {ref('env')}", "    spec:", f"      project: {team}",
                  "      source:", f"        repoURL: {repository}", f"        chart: {chart}",
                  f"        targetRevision: {ref('chartVersion')}", "        helm:",
                  f"          releaseName: {chart}", "      destination:", f"        server: {ref('url')}",
                  f"        namespace: {chart}", "      syncPolicy:", "        automated: {}")


# --- Helm charts ------------------------------------------------------------------------

def chart_dependencies(repo, budget):
    r = repo.rng
    while budget > 0:
        chart = repo.chart_name()
        d = f"charts/{chart}"
        helm2 = r.random() < 0.1
        count = min(budget, r.randint(1, 5))
        t = Text()
        t.add("apiVersion: v1" if helm2 else "apiVersion: v2", f"name: {chart}",
              f"description: A Helm chart for {chart}", "type: application",
              f"version: 0.{r.randint(1, 40)}.{r.randint(0, 9)}  # the chart's own version, not a pin",
              f'appVersion: "{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 9)}"',
              "maintainers:", f"  - name: team-{r.choice(TEAMS)}", "    email: platform@example.com",
              "keywords:", f"  - {chart.split('-')[1]}")
        repo.files[f"{d}/Chart.yaml"] = t
        if helm2:
            t = Text()
            t.add("# Helm 2 style dependencies, read by Helm 3 too.")
            repo.files[f"{d}/requirements.yaml"] = t
        dep_file = f"{d}/requirements.yaml" if helm2 else f"{d}/Chart.yaml"
        t.add("dependencies:")
        used = set()
        for _ in range(count):
            dep = r.choice(DEPS)
            while dep in used:
                dep = r.choice(DEPS)
            used.add(dep)
            if r.random() < 0.1:
                t.add(f"  - name: {dep}", '    version: "0.1.0"', f"    repository: file://../{dep}")
                dep = r.choice(DEPS)
                while dep in used:
                    dep = r.choice(DEPS)
                used.add(dep)
            repository = r.choice(("https://charts.bitnami.com/bitnami",
                                   "oci://registry-1.docker.io/bitnamicharts",
                                   f"https://charts.{r.choice(TEAMS)}.example.com", "@bitnami"))
            version = repo.version()
            if r.random() < 0.15:
                version = r.choice(("~", "^")) + version.lstrip("v")
            q = r.choice(("", '"', '"', "'"))
            t.add(f"  - name: {dep}")
            if r.random() < 0.2:
                t.add(f"    # {dep} is shared with the other services of this chart")
            repo.pin("chart-dependency", "chart-dependency", dep_file, t.next_line, dep, None,
                     repository if repository else None, dep, version)
            t.add(f"    version: {q}{version}{q}")
            shown = f'"{repository}"' if repository.startswith("@") else repository
            t.add(f"    repository: {shown}")
            if r.random() < 0.4:
                t.add(f"    condition: {dep}.enabled")
            if r.random() < 0.1:
                t.add(f"    alias: {dep}-cache", "    tags:", "      - cache")
            budget -= 1
        repo.files[f"{d}/values.yaml"] = values_yaml(r, chart, r.randint(20, 160))
        repo.files[f"{d}/templates/deployment.yaml"] = (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"%s.fullname\" . }}\n"
            "  labels:\n    {{- include \"%s.labels\" . | nindent 4 }}\nspec:\n"
            "  replicas: {{ .Values.replicaCount }}\n  template:\n    spec:\n      containers:\n"
            "        - name: {{ .Chart.Name }}\n          image: \"{{ .Values.image.repository }}:"
            "{{ .Values.image.tag }}\"\n" % (chart, chart))
        if r.random() < 0.1:
            # A vendored subchart (`helm dependency build`): never the repository's own pin.
            sub = r.choice(DEPS)
            repo.files[f"{d}/charts/{sub}/Chart.yaml"] = (
                f"apiVersion: v2\nname: {sub}\nversion: 1.0.0\ndependencies:\n"
                "  - name: common\n    version: 2.0.0\n    repository: oci://registry-1.docker.io/bitnamicharts\n")


def values_files(repo, count):
    r = repo.rng
    for k in range(count):
        chart = f"{r.choice(WORDS_A)}-{r.choice(WORDS_B)}"
        for env in repo.envs:
            path = f"values/{chart}/{env}.yaml"
            if path not in repo.files:
                repo.files[path] = values_yaml(r, chart, r.randint(10, 80))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pins", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--envs", default="dev,staging,prod")
    ap.add_argument("--force", action="store_true", help="replace an existing --out")
    a = ap.parse_args()
    if a.pins < 1:
        ap.error("--pins must be at least 1")
    envs = [e for e in a.envs.split(",") if e]
    if os.path.exists(a.out) and os.listdir(a.out):
        if not a.force:
            ap.error(f"{a.out} exists and is not empty (use --force)")
        shutil.rmtree(a.out)
    rng = random.Random(f"chartpilot-pins:{a.seed}")
    repo = Repo(rng, envs)

    budgets = {k: int(a.pins * share) for k, share in SHARES.items()}
    budgets["terraform-literal"] += a.pins - sum(budgets.values())
    budgets["terraform-literal"] += terraform_platform(repo, budgets.pop("terraform-platform-tfvars"))
    terraform_modules(repo, budgets.pop("terraform-module-input"))
    terraform_env_releases(repo, budgets)
    argocd_applications(repo, budgets["argocd-application"])
    argocd_application_sets(repo, budgets["argocd-applicationset"])
    chart_dependencies(repo, budgets["chart-dependency"])
    values_files(repo, max(1, a.pins // 40))
    repo.files["README.md"] = f"# platform-gitops (synthetic)\n\n{a.pins} chart pins, seed {a.seed}.\n"

    total_bytes = 0
    for path in sorted(repo.files):
        body = repo.files[path]
        body = body.render() if isinstance(body, Text) else body
        full = os.path.join(a.out, "repo", path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="\n") as f:
            f.write(body)
        total_bytes += len(body.encode())

    pins = sorted(repo.pins, key=lambda p: (p["file"], p["line"], p["name"]))
    assert len(pins) == a.pins, (len(pins), a.pins)
    count = lambda key: {k: sum(p[key] == k for p in pins) for k in sorted({p[key] for p in pins})}
    expected = {
        "generator": "benches/gen_pins.py", "seed": a.seed, "envs": envs,
        "files": len(repo.files), "bytes": total_bytes,
        "pins": len(pins), "by_kind": count("kind"), "by_style": count("style"),
        "pin_list": [{k: v for k, v in p.items() if k != "style"} for p in pins],
    }
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    print(json.dumps({k: v for k, v in expected.items() if k != "pin_list"}, sort_keys=True))


if __name__ == "__main__":
    main()
