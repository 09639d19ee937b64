{{/* The service name: every object is named after it. */}}
{{- define "svc.name" -}}
{{- required "name is required (the service name from service.yaml)" .Values.name -}}
{{- end -}}

{{/* Workload name: the service name, with -canary for the canary track. */}}
{{- define "svc.workload" -}}
{{- if eq .Values.track "stable" -}}{{ include "svc.name" . }}{{- else -}}{{ include "svc.name" . }}-{{ .Values.track }}{{- end -}}
{{- end -}}

{{- define "svc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "svc.name" . }}
{{- end -}}

{{- define "svc.podSelectorLabels" -}}
{{ include "svc.selectorLabels" . }}
opsplane.dev/track: {{ .Values.track }}
{{- end -}}

{{- define "svc.labels" -}}
{{ include "svc.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "svc.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: opsplane
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.team }}
opsplane.dev/team: {{ . }}
{{- end }}
{{- end -}}

{{- define "svc.version" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "svc.image" -}}
{{- $repo := required "image.repository is required" .Values.image.repository -}}
{{- if .Values.image.digest -}}{{ $repo }}@{{ .Values.image.digest }}
{{- else -}}{{ $repo }}:{{ include "svc.version" . }}{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds = ceil(preStop + drainDelay + grace + 5), the time the kubelet
gives before SIGKILL: preStop sleep (endpoints drain), then SIGTERM -> readiness 503 for
drainDelay -> in-flight requests finish within grace -> exit; 5 s of slack.
*/}}
{{- define "svc.minGrace" -}}
{{- $s := .Values.shutdown -}}
{{- int (ceil (addf $s.preStopSeconds $s.drainDelaySeconds $s.graceSeconds 5)) -}}
{{- end -}}

{{- define "svc.terminationGrace" -}}
{{- $min := int (include "svc.minGrace" .) -}}
{{- $given := .Values.terminationGracePeriodSeconds -}}
{{- if kindIs "invalid" $given -}}{{ $min }}
{{- else if lt (int $given) $min -}}
{{- fail (printf "terminationGracePeriodSeconds %d is below preStopSeconds + drainDelaySeconds + graceSeconds + 5 = %d" (int $given) $min) -}}
{{- else -}}{{ int $given }}{{- end -}}
{{- end -}}

{{- define "svc.externalSecretName" -}}
{{ include "svc.name" . }}-external
{{- end -}}
