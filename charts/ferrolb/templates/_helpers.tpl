{{/* Names, labels and the values both workloads share. */}}

{{- define "ferrolb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's prefix for every object: fullnameOverride, else the release
name when it already contains the chart's name, else RELEASE-NAME.
*/}}
{{- define "ferrolb.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ferrolb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ferrolb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ferrolb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ferrolb.labels" -}}
helm.sh/chart: {{ include "ferrolb.chart" . }}
{{ include "ferrolb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The speaker pods' selector, also the speaker's --speaker-selector. */}}
{{- define "ferrolb.speakerSelector" -}}
{{- printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s,app.kubernetes.io/component=speaker" (include "ferrolb.name" .) .Release.Name }}
{{- end }}

{{- define "ferrolb.controllerServiceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (printf "%s-controller" (include "ferrolb.fullname" .)) .Values.controller.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ferrolb.speakerServiceAccountName" -}}
{{- if .Values.speaker.serviceAccount.create }}
{{- default (printf "%s-speaker" (include "ferrolb.fullname" .)) .Values.speaker.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.speaker.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image: (dict "image" .Values.X.image "root" .) */}}
{{- define "ferrolb.image" -}}
{{- printf "%s:%s" .image.repository (toString (default .root.Chart.AppVersion .image.tag)) }}
{{- end }}

{{/* MetalLB's log levels as FerroLB's --log-level filter. */}}
{{- define "ferrolb.logLevel" -}}
{{- $levels := dict "all" "trace" "debug" "debug" "info" "info" "warn" "warn" "error" "error" "none" "off" }}
{{- get $levels . }}
{{- end }}

{{/*
The log-level ConfigMap as a volume; optional, so that a deleted ConfigMap
means --log-level's default (info), not a pod that cannot start.
*/}}
{{- define "ferrolb.logLevelVolume" -}}
- name: log-level
  configMap:
    name: {{ include "ferrolb.fullname" . }}-log-level
    optional: true
{{- end }}

{{/*
One HTTP probe on the metrics port: (dict "probe" .Values.X.livenessProbe
"path" "/healthz").
*/}}
{{- define "ferrolb.probe" -}}
httpGet:
  path: {{ .path }}
  port: metrics
{{- range $k := list "initialDelaySeconds" "periodSeconds" "timeoutSeconds" "successThreshold" "failureThreshold" }}
{{- if hasKey $.probe $k }}
{{ $k }}: {{ get $.probe $k }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod annotations: the component's, and Prometheus's when asked. */}}
{{- define "ferrolb.podAnnotations" -}}
{{- $annotations := dict }}
{{- if .root.Values.prometheus.scrapeAnnotations }}
{{- $_ := set $annotations "prometheus.io/scrape" "true" }}
{{- $_ := set $annotations "prometheus.io/port" (toString .root.Values.prometheus.metricsPort) }}
{{- end }}
{{- $annotations = merge (deepCopy .component.podAnnotations) $annotations }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
