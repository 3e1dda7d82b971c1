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

{{/* IP intelligence settings of a service with `geoip: true` (a list of name/value). */}}
{{- define "gamekeys.geoipEnv" -}}
{{- $geoip := .root.Values.geoip -}}
{{- $env := list (dict "name" "GEOIP_HOSTING_ASNS" "value" ($geoip.hostingAsns | toString))
  (dict "name" "GEOIP_RELOAD_SECONDS" "value" ($geoip.reloadSeconds | toString))
  (dict "name" "GEOIP_MAX_AGE_DAYS" "value" ($geoip.maxAgeDays | toString))
  (dict "name" "GEOIP_MAXMIND_MAX_AGE_DAYS" "value" ($geoip.maxmindMaxAgeDays | toString)) -}}
{{- if $geoip.maxmind.enabled -}}
{{- range $variable, $file := dict "GEOIP_MAXMIND_COUNTRY_FILE" $geoip.maxmind.countryFile "GEOIP_MAXMIND_ANONYMOUS_IP_FILE" $geoip.maxmind.anonymousIpFile "GEOIP_MAXMIND_ASN_FILE" $geoip.maxmind.asnFile -}}
{{- if $file -}}
{{- $env = append $env (dict "name" $variable "value" (printf "%s/%s" $geoip.maxmind.mountPath $file)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}
