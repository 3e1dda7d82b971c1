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
(.extraEnv, a list of name/value), the shared config (unless .noConfig) and the service's secrets. */}}
{{- define "gamekeys.env" -}}
env:
  - name: SERVICE_NAME
    value: {{ .name | quote }}
{{- with .extraEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
envFrom:
  {{- if not .noConfig }}
  - configMapRef:
      name: {{ .root.Release.Name }}-config
  {{- end }}
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

{{- define "gamekeys.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The pod-level security context; the clamav pods pass their own user (.runAsUser/.runAsGroup). */}}
{{- define "gamekeys.podSecurityContext" -}}
{{- $context := deepCopy .root.Values.podSecurityContext -}}
{{- if .runAsUser }}{{ $_ := set $context "runAsUser" .runAsUser }}{{ $_ := set $context "fsGroup" .runAsGroup }}{{ $_ := set $context "runAsGroup" .runAsGroup }}{{ end -}}
securityContext:
  {{- toYaml $context | nindent 2 }}
{{- end -}}

{{- define "gamekeys.containerSecurityContext" -}}
securityContext:
  {{- toYaml .root.Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* Spread one component's pods across zones, then nodes (.component). */}}
{{- define "gamekeys.topologySpread" -}}
{{- $spread := .root.Values.topologySpread -}}
{{- if $spread.enabled }}
topologySpreadConstraints:
{{- range $key := list $spread.zoneKey "kubernetes.io/hostname" }}
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "gamekeys.selectorLabels" $ | nindent 8 }}
        app.kubernetes.io/component: {{ $.component }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "gamekeys.imagePullSecrets" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Merged settings of one service's API / worker / migration (defaults, then the service's own). */}}
{{- define "gamekeys.component" -}}
{{- $svc := get .root.Values.services .name -}}
{{- toYaml (mergeOverwrite (deepCopy (get .root.Values.defaults .component)) (deepCopy (default dict (get $svc .component)))) -}}
{{- end -}}
