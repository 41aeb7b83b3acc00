variable "cert_manager_version" {
  description = "cert-manager chart version; each environment sets its own in <env>.tfvars"
  type        = string
}
