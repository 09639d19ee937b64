{{- define "lt.name" -}}
{{- printf "%s-loadtest" (required "name is required: the service under load" .Values.name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lt.labels" -}}
app.kubernetes.io/name: {{ include "lt.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: locust-worker
app.kubernetes.io/part-of: {{ .Values.name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
