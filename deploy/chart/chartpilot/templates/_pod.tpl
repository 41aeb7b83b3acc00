{{/*
The pod template of every shape. Call with
(dict "root" $ "role" "all|receiver|worker" "resources" R).
*/}}
{{- define "chartpilot.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
metadata:
  labels:
    {{- include "chartpilot.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
    {{- if $v.serviceAccount.workloadIdentity.enabled }}
    azure.workload.identity/use: "true"
    {{- end }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Roll the pods when the rendered config changes.
    checksum/config: {{ include "chartpilot.config" $root | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "chartpilot.serviceAccountName" $root }}
  # Only argocd.mode = kube talks to the Kubernetes API.
  automountServiceAccountToken: {{ eq $v.config.argocd.mode "kube" }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: chartpilot
      image: {{ include "chartpilot.image" $root | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args:
        - serve
        - --config
        - /etc/chartpilot/config.toml
        - --log-format
        - json
        - --role
        - {{ .role }}
      env:
        # git (local provider, reverts) writes its config and temporary files here.
        - name: HOME
          value: /tmp
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        runAsUser: 65532
        capabilities:
          drop: ["ALL"]
        seccompProfile:
          type: RuntimeDefault
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 5
        failureThreshold: 2
      {{- with .resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/chartpilot
          readOnly: true
        - name: data
          mountPath: /var/lib/chartpilot
        - name: tmp
          mountPath: /tmp
        {{- if ne (include "chartpilot.secretItems" $root) "[]" }}
        - name: secrets
          mountPath: {{ include "chartpilot.secretDir" $root }}
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "chartpilot.fullname" $root }}
    - name: tmp
      emptyDir: {}
    - name: data
      {{- if eq .role "all" }}
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-data" (include "chartpilot.fullname" $root)) $v.queue.persistence.existingClaim }}
      {{- else }}
      # Receivers and workers write nothing; the image's data path stays writable.
      emptyDir: {}
      {{- end }}
    {{- $items := include "chartpilot.secretItems" $root | fromJsonArray }}
    {{- if $items }}
    - name: secrets
      {{- if $v.secrets.secretProviderClass }}
      csi:
        driver: secrets-store.csi.k8s.io
        readOnly: true
        volumeAttributes:
          secretProviderClass: {{ $v.secrets.secretProviderClass }}
      {{- else }}
      secret:
        secretName: {{ $v.secrets.existingSecret }}
        # Group-readable; fsGroup gives uid 65532 read access.
        defaultMode: 0440
        items:
          {{- range $items }}
          - key: {{ . }}
            path: {{ . }}
          {{- end }}
      {{- end }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
