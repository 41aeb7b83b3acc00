output "webhook_base_url" {
  description = "Give GitHub, Alertmanager and Slack <this>/webhooks/<sender>."
  value       = "https://${var.ingress_host}"
}

output "chart_version" {
  value = helm_release.chartpilot.version
}
