{{/*
config.toml from values. Strings and lists go through toJson: a JSON string
or array of strings is a valid TOML value. Secrets appear only as *_file
paths to the mounted secret files.
*/}}
{{- define "chartpilot.config" -}}
{{- $c := .Values.config -}}
{{- $k := .Values.secrets.keys -}}
# Rendered by the chartpilot Helm chart from its values; see docs/configuration.md.
[server]
listen = "0.0.0.0:8080"

[queue]
kind = {{ .Values.queue.kind | toJson }}
path = "/var/lib/chartpilot/queue"
max_attempts = {{ int $c.queue.maxAttempts }}
prefix = {{ $c.queue.prefix | toJson }}
prefetch = {{ int $c.queue.prefetch }}
retry_delays = {{ $c.queue.retryDelays | toJson }}
job_timeout = {{ $c.queue.jobTimeout | toJson }}
lanes = {{ int $c.queue.lanes }}
{{- if eq .Values.queue.kind "amqp" }}
{{- include "chartpilot.secretFile" (dict "key" "url_file" "secret" $k.amqpUrl) }}
{{- end }}

[log]
format = "json"
level = {{ $c.log.level | toJson }}

[github]
api_url = {{ $c.github.apiUrl | toJson }}
{{- include "chartpilot.secretFile" (dict "key" "webhook_secret_file" "secret" $k.githubWebhookSecret) }}
{{- include "chartpilot.secretFile" (dict "key" "token_file" "secret" $k.githubToken) }}
{{- if gt (int64 $c.github.appId) 0 }}
app_id = {{ int64 $c.github.appId }}
{{- include "chartpilot.secretFile" (dict "key" "private_key_file" "secret" $k.githubAppPrivateKey) }}
{{- end }}

[alertmanager]
api_url = {{ $c.alertmanager.apiUrl | toJson }}
{{- include "chartpilot.secretFile" (dict "key" "token_file" "secret" $k.alertmanagerToken) }}

[slack]
{{- include "chartpilot.secretFile" (dict "key" "signing_secret_file" "secret" $k.slackSigningSecret) }}
{{- include "chartpilot.secretFile" (dict "key" "webhook_url_file" "secret" $k.slackWebhookUrl) }}
{{- include "chartpilot.secretFile" (dict "key" "bot_token_file" "secret" $k.slackBotToken) }}

[chat]
{{- include "chartpilot.secretFile" (dict "key" "secret_file" "secret" $k.chatSecret) }}
protected = {{ $c.chat.protected | toJson }}
{{- range $c.chat.allow }}

[[chat.allow]]
verbs = {{ .verbs | toJson }}
environments = {{ .environments | toJson }}
{{- with .slackUsers }}
slack_users = {{ . | toJson }}
{{- end }}
{{- with .slackGroups }}
slack_groups = {{ . | toJson }}
{{- end }}
{{- with .githubUsers }}
github_users = {{ . | toJson }}
{{- end }}
{{- with .githubTeams }}
github_teams = {{ . | toJson }}
{{- end }}
{{- with .githubPermission }}
github_permission = {{ . | toJson }}
{{- end }}
{{- with .users }}
users = {{ . | toJson }}
{{- end }}
{{- end }}

[git]
provider = {{ $c.git.provider | toJson }}
repository = {{ $c.git.repository | toJson }}
branch = {{ $c.git.branch | toJson }}
{{- if $c.repositories.discover }}

[repositories]
discover = true
exclude = {{ $c.repositories.exclude | toJson }}
{{- end }}

[argocd]
mode = {{ $c.argocd.mode | toJson }}
api_url = {{ $c.argocd.apiUrl | toJson }}
namespace = {{ $c.argocd.namespace | toJson }}
sync_options = {{ $c.argocd.syncOptions | toJson }}
sync_automated = {{ $c.argocd.syncAutomated }}
{{- include "chartpilot.secretFile" (dict "key" "token_file" "secret" $k.argocdToken) }}

[helm]
timeout = {{ $c.helm.timeout | toJson }}
{{- range $c.helm.mirrors }}

[[helm.mirrors]]
from = {{ .from | toJson }}
to = {{ .to | toJson }}
{{- end }}

[policy]
environments = {{ $c.policy.environments | toJson }}
dry_run = {{ $c.policy.dryRun }}
rollout_window = {{ $c.policy.rolloutWindow | toJson }}
cooldown = {{ $c.policy.cooldown | toJson }}
soak = {{ $c.policy.soak | toJson }}
update_types = {{ $c.policy.updateTypes | toJson }}
ignore = {{ $c.policy.ignore | toJson }}
min_release_age = {{ $c.policy.minReleaseAge | toJson }}
ranges = {{ $c.policy.ranges | toJson }}

[upgrade]
interval = {{ $c.upgrade.interval | toJson }}
jitter = {{ $c.upgrade.jitter | toJson }}
labels = {{ $c.upgrade.labels | toJson }}
major_label = {{ $c.upgrade.majorLabel | toJson }}

[promotion]
deadline = {{ $c.promotion.deadline | toJson }}
recheck = {{ $c.promotion.recheck | toJson }}
{{- range $c.rollback.rules }}

[[rollback.rules]]
matchers = {{ .matchers | toJson }}
app_labels = {{ .appLabels | toJson }}
env_labels = {{ default (list) .envLabels | toJson }}
action = {{ default "revert-pr" .action | toJson }}
{{- with .namespaceApps }}

[rollback.rules.namespace_apps]
{{- range $ns, $app := . }}
{{ $ns | toJson }} = {{ $app | toJson }}
{{- end }}
{{- end }}
{{- with .envValues }}

[rollback.rules.env_values]
{{- range $value, $env := . }}
{{ $value | toJson }} = {{ $env | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
