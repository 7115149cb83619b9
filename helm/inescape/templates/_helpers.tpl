{{/* Names */}}
{{- define "inescape.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "inescape.fullname" -}}
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

{{- define "inescape.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "inescape.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "inescape.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inescape.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "inescape.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "inescape.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "inescape.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
The HTTP processes: name, port and arguments. Monolith: "app" serves every module.
Split: the gateway serves auth and patients and forwards the rest; each module serves alone.
*/}}
{{- define "inescape.webComponents" -}}
{{- if eq .Values.mode "split" }}
- {name: gateway, port: 8000, module: ""}
- {name: generation, port: 8001, module: generation}
- {name: collection, port: 8002, module: collection}
- {name: training, port: 8003, module: training}
- {name: cds, port: 8004, module: cds}
{{- else }}
- {name: app, port: 8000, module: ""}
{{- end }}
{{- end }}

{{/* A web component's settings: `web` with the split-mode overrides on top. */}}
{{- define "inescape.webValues" -}}
{{- $root := index . 0 }}{{- $name := index . 1 }}
{{- $override := dict }}
{{- if eq $root.Values.mode "split" }}{{- $override = index $root.Values.split $name | default dict }}{{- end }}
{{- toYaml (mergeOverwrite (deepCopy $root.Values.web) (deepCopy $override)) }}
{{- end }}

{{/* The gateway's forwarding table in split mode: module=URL pairs. */}}
{{- define "inescape.upstreams" -}}
{{- $fullname := include "inescape.fullname" . }}
{{- $scheme := ternary "https" "http" .Values.serverTls.enabled }}
{{- $pairs := list }}
{{- range $m := list (list "generation" 8001) (list "collection" 8002) (list "training" 8003) (list "cds" 8004) }}
{{- $pairs = append $pairs (printf "%s=%s://%s-%s:%d" (index $m 0) $scheme $fullname (index $m 0) (index $m 1)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{- define "inescape.credentialsSecret" -}}
{{ include "inescape.fullname" . }}-credentials
{{- end }}

{{/* A password variable from the user's Secret or the chart's; nothing when there is none. */}}
{{- define "inescape.passwordEnv" -}}
{{- $root := index . 0 }}{{- $section := index . 1 }}{{- $var := index . 2 }}{{- $key := index . 3 }}
{{- $v := index $root.Values $section }}
{{- if $v.existingSecret }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.existingSecret }}
      key: {{ $v.existingSecretPasswordKey }}
{{- else if $v.password }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ include "inescape.credentialsSecret" $root }}
      key: {{ $key }}
{{- end }}
{{- end }}

{{/* Backend variables: passwords first, so the URLs can refer to them as $(VAR). */}}
{{- define "inescape.databaseEnv" -}}
{{- $pg := .Values.postgresql }}
{{- include "inescape.passwordEnv" (list . "postgresql" "POSTGRESQL_PASSWORD" "postgresql-password") }}
{{- $auth := $pg.username }}
{{- if or $pg.existingSecret $pg.password }}{{- $auth = printf "%s:$(POSTGRESQL_PASSWORD)" $pg.username }}{{- end }}
- name: INESCAPE_DATABASE_URL
  value: {{ printf "postgresql://%s@%s:%d/%s?sslmode=%s" $auth $pg.host (int $pg.port) $pg.database $pg.sslmode | quote }}
- name: INESCAPE_DATABASE_POOL_SIZE
  value: {{ $pg.poolSize | quote }}
{{- end }}

{{- define "inescape.backendEnv" -}}
{{- include "inescape.databaseEnv" . }}
{{- with .Values.mongodb }}
{{- if .enabled }}
{{- include "inescape.passwordEnv" (list $ "mongodb" "MONGODB_PASSWORD" "mongodb-password") }}
{{- $auth := "" }}
{{- if or .existingSecret .password }}{{- $auth = printf "%s:$(MONGODB_PASSWORD)@" .username }}{{- end }}
{{- $query := printf "authSource=%s" .authSource }}
{{- if .options }}{{- $query = printf "%s&%s" $query .options }}{{- end }}
- name: INESCAPE_MONGODB_URL
  value: {{ printf "mongodb://%s%s:%d/?%s" $auth .host (int .port) $query | quote }}
- name: INESCAPE_MONGODB_DATABASE
  value: {{ .database | quote }}
{{- end }}
{{- end }}
{{- with .Values.redis }}
{{- include "inescape.passwordEnv" (list $ "redis" "REDIS_PASSWORD" "redis-password") }}
{{- $auth := "" }}
{{- if or .existingSecret .password }}{{- $auth = ":$(REDIS_PASSWORD)@" }}{{- end }}
- name: INESCAPE_REDIS_URL
  value: {{ printf "%s://%s%s:%d/%d" (ternary "rediss" "redis" .tls) $auth .host (int .port) (int .db) | quote }}
- name: INESCAPE_REDIS_QUEUE_NAMESPACE
  value: {{ .queueNamespace | quote }}
{{- end }}
{{- with .Values.s3 }}
{{- if .endpointUrl }}
- name: INESCAPE_S3_ENDPOINT_URL
  value: {{ .endpointUrl | quote }}
{{- else }}
- name: INESCAPE_S3_ENABLED
  value: "true"
{{- end }}
- name: INESCAPE_S3_REGION
  value: {{ .region | quote }}
- name: AWS_DEFAULT_REGION
  value: {{ .region | quote }}
{{- if .bucketPrefix }}
- name: INESCAPE_S3_BUCKET_PREFIX
  value: {{ .bucketPrefix | quote }}
{{- end }}
- name: INESCAPE_S3_SSE
  value: {{ .sse | quote }}
{{- if .sseKmsKeyId }}
- name: INESCAPE_S3_SSE_KMS_KEY_ID
  value: {{ .sseKmsKeyId | quote }}
{{- end }}
{{- if or .existingSecret .accessKeyId }}
{{- $secret := .existingSecret | default (include "inescape.credentialsSecret" $) }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: AWS_ACCESS_KEY_ID}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: AWS_SECRET_ACCESS_KEY}
{{- end }}
{{- end }}
{{- end }}

{{/* Everything a platform process reads. */}}
{{- define "inescape.env" -}}
- name: INESCAPE_DATA_DIR
  value: /var/lib/inescape
- name: HOME
  value: /var/lib/inescape
- name: INESCAPE_ENCRYPTION_KEY_FILE
  value: /run/inescape-keys/encryption.json
- name: INESCAPE_AUTH_SIGNING_KEY_FILE
  value: /run/inescape-keys/jwt-signing.json
- name: INESCAPE_LOG_LEVEL
  value: {{ .Values.settings.logLevel | quote }}
- name: INESCAPE_LOG_FORMAT
  value: {{ .Values.settings.logFormat | quote }}
- name: INESCAPE_LOG_ACCESS
  value: {{ .Values.settings.logAccess | quote }}
{{- with .Values.settings.corsOrigins }}
- name: INESCAPE_SERVER_CORS_ORIGINS
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.settings.rateLimits }}
- name: INESCAPE_RATE_LIMITS
  value: {{ . | quote }}
{{- end }}
- name: FORWARDED_ALLOW_IPS
  value: {{ .Values.settings.forwardedAllowIps | quote }}
{{- include "inescape.backendEnv" . }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "inescape.keysSecret" -}}
{{- if .Values.keys.create }}
{{- printf "%s-keys" (include "inescape.fullname" .) }}
{{- else }}
{{- required "keys.existingSecret (a Secret with encryption.json and jwt-signing.json) or keys.create is required" .Values.keys.existingSecret }}
{{- end }}
{{- end }}

{{- define "inescape.keysVolume" -}}
- name: keys
  secret:
    secretName: {{ include "inescape.keysSecret" . }}
    defaultMode: 0400
{{- end }}

{{- define "inescape.pod.common" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}
