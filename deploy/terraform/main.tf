# chartpilot as a tier-1 platform release, installed the way the platform
# installs its other services: a pinned helm_release whose version
# chartpilot itself scans and upgrades (`chartpilot scan deploy --offline`
# lists it). Secrets come from Azure Key Vault into a Kubernetes Secret the
# chart mounts as files; no secret is ever a chart value.

resource "kubernetes_namespace" "chartpilot" {
  metadata {
    name = var.namespace
  }
}

locals {
  # Key Vault secret name => key in the Kubernetes Secret (the chart's secrets.keys).
  chartpilot_secrets = {
    "chartpilot-github-webhook-secret"  = "github-webhook-secret"
    "chartpilot-github-app-private-key" = "github-app-private-key"
    "chartpilot-alertmanager-token"     = "alertmanager-token"
    "chartpilot-slack-signing-secret"   = "slack-signing-secret"
  }
}

data "azurerm_key_vault_secret" "chartpilot" {
  for_each     = local.chartpilot_secrets
  name         = each.key
  key_vault_id = var.key_vault_id
}

# The values pass through Terraform state, like every kubernetes_secret; use
# the Key Vault CSI driver (chart value secrets.secretProviderClass) to keep
# them out of it, as docs/install.md shows.
resource "kubernetes_secret" "chartpilot" {
  metadata {
    name      = "chartpilot"
    namespace = kubernetes_namespace.chartpilot.metadata[0].name
  }
  data = {
    for vault_name, key in local.chartpilot_secrets :
    key => data.azurerm_key_vault_secret.chartpilot[vault_name].value
  }
}

resource "helm_release" "chartpilot" {
  name       = "chartpilot"
  namespace  = kubernetes_namespace.chartpilot.metadata[0].name
  repository = "oci://platformcharts.azurecr.io/helm"
  chart      = "chartpilot"
  version    = "0.1.0"

  atomic          = true
  cleanup_on_fail = true
  timeout         = 300

  values = [
    templatefile("${path.module}/values.yaml.tftpl", {
      image_repository            = var.image_repository
      gitops_repository           = var.gitops_repository
      github_app_id               = var.github_app_id
      ingress_host                = var.ingress_host
      secret_name                 = kubernetes_secret.chartpilot.metadata[0].name
      workload_identity_client_id = var.workload_identity_client_id
    })
  ]
}
