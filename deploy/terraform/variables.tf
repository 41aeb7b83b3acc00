variable "namespace" {
  description = "Namespace chartpilot runs in."
  type        = string
  default     = "chartpilot"
}

variable "key_vault_id" {
  description = "Azure Key Vault holding chartpilot's secrets (see docs/install.md for the secret names)."
  type        = string
}

variable "gitops_repository" {
  description = "owner/name of the GitOps repository chartpilot keeps up to date."
  type        = string
}

variable "github_app_id" {
  description = "Id of the GitHub App created from deploy/github-app.yml."
  type        = number
}

variable "ingress_host" {
  description = "Public host name of the webhooks."
  type        = string
}

variable "workload_identity_client_id" {
  description = "Client id of the managed identity chartpilot's pods use (empty: none)."
  type        = string
  default     = ""
}

variable "image_repository" {
  description = "Where the chartpilot image is pulled from (your ACR)."
  type        = string
}
