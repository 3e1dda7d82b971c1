{{/* Shared names and labels. Every resource is per service: <release>-<service>[-worker]. */}}

{{- define "gamekeys.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gamekeys.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: gamekeys-platform
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "gamekeys.image" -}}
{{ .root.Values.image.registry }}/gamekeys-{{ .name }}:{{ .root.Values.image.tag }}
{{- end -}}

{{- define "gamekeys.secretName" -}}
{{- default (printf "%s-%s-secrets" .root.Release.Name .name) (get .root.Values.secrets.nameOverride .name) -}}
{{- end -}}

{{/* Environment of every container of a service: its name, the container's own variables
(.extraEnv, a list of name/value), the shared config and the service's secrets. */}}
{{- define "gamekeys.env" -}}
env:
  - name: SERVICE_NAME
    value: {{ .name | quote }}
{{- with .extraEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
envFrom:
  - configMapRef:
      name: {{ .root.Release.Name }}-config
  - secretRef:
      name: {{ include "gamekeys.secretName" . }}
{{- end -}}
