{{- define "chartpilot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chartpilot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "chartpilot.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "chartpilot.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "chartpilot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chartpilot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "chartpilot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "chartpilot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "chartpilot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chartpilot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "chartpilot.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* "true" when the chart runs receivers and workers against RabbitMQ. */}}
{{- define "chartpilot.scaled" -}}
{{- if eq .Values.queue.kind "amqp" }}true{{ end }}
{{- end }}

{{/* Where secret files are mounted. */}}
{{- define "chartpilot.secretDir" -}}/run/secrets/chartpilot{{- end }}

{{/*
"true" when a prometheus-operator object is rendered: enabled is true, or
"auto" and the cluster serves the kind. Call with (dict "root" $ "value" X "kind" K).
*/}}
{{- define "chartpilot.monitoringOn" -}}
{{- $v := toString .value }}
{{- if or (eq $v "true") (and (eq $v "auto") (.root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" .kind))) }}true{{ end }}
{{- end }}

{{/* The secret keys in use, as a list of key names in the Secret. */}}
{{- define "chartpilot.secretItems" -}}
{{- $items := list }}
{{- range $name, $key := .Values.secrets.keys }}
{{- if and $key (or (ne $name "amqpUrl") (eq $.Values.queue.kind "amqp")) }}
{{- $items = append $items $key }}
{{- end }}
{{- end }}
{{- $items | uniq | sortAlpha | toJson }}
{{- end }}

{{/* `key_file = "/run/secrets/chartpilot/<secret key>"` when the secret key is set. */}}
{{- define "chartpilot.secretFile" -}}
{{- if .secret }}
{{ .key }} = {{ printf "%s/%s" (include "chartpilot.secretDir" .) .secret | toJson }}
{{- end }}
{{- end }}

{{/* PromQL label matchers selecting this release's scrape targets. */}}
{{- define "chartpilot.metricSelector" -}}
namespace="{{ .Release.Namespace }}", job=~"{{ include "chartpilot.fullname" . }}(-worker)?"
{{- end }}
