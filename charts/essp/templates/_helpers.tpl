{{/*
The roles, in the runbook's order. Every per-role template ranges over these
keys of .Values; nothing is written five times.
Usage: {{- range $key := include "essp.roleKeys" . | splitList " " }}
*/}}
{{- define "essp.roleKeys" -}}
imsApi ssotSchool ssotDevices ssotParts syncWorker
{{- end }}

{{- define "essp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "essp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object. `app` names the object's component (a role, or the
chart for shared objects); `app.kubernetes.io/part-of: essp-platform` is what
the runbook's ServiceMonitor and `kubectl -l` lines select on.
Usage: include "essp.labels" (dict "root" $ "app" "ims-api")
*/}}
{{- define "essp.labels" -}}
app: {{ .app }}
app.kubernetes.io/name: {{ include "essp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .app }}
app.kubernetes.io/part-of: essp-platform
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "essp.chart" .root }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of a role's pods (immutable once installed).
Usage: include "essp.selectorLabels" (dict "root" $ "app" "ims-api")
*/}}
{{- define "essp.selectorLabels" -}}
app: {{ .app }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/*
The image of a role: [registry/]repository:tag, where the role may override
repository and tag (runbook: --set imsApi.image.tag=$VERSION).
Usage: include "essp.image" (dict "root" $ "r" $r)
*/}}
{{- define "essp.image" -}}
{{- $img := .root.Values.image -}}
{{- $ri := (.r).image | default dict -}}
{{- $repo := $ri.repository | default $img.repository -}}
{{- $tag := $ri.tag | default $img.tag | default .root.Chart.AppVersion -}}
{{- with .root.Values.global.imageRegistry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .) $repo $tag -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end }}

{{/* The tag the migration Job runs (ims-api's), for its name. */}}
{{- define "essp.migrationJobName" -}}
{{- $tag := .Values.imsApi.image.tag | default .Values.image.tag | default .Chart.AppVersion -}}
{{- printf "essp-migration-%s" (regexReplaceAll "[^a-z0-9-]+" ($tag | toString | lower) "-") | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "essp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "essp.name" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end }}

{{/* pg-dsn, when the chart creates database-secrets. */}}
{{- define "essp.pgDsn" -}}
{{- $s := .Values.secrets.database -}}
{{- if $s.dsn -}}
{{- $s.dsn -}}
{{- else -}}
{{- $db := .Values.database -}}
{{- /* Percent-encode the credentials: QueryEscape, then its "+" for space as %20. */ -}}
{{- $user := urlquery $s.username | replace "+" "%20" -}}
{{- $pass := urlquery $s.password | replace "+" "%20" -}}
{{- printf "postgres://%s:%s@%s:%v/%s?sslmode=%s" $user $pass (tpl $db.host .) $db.port $db.name $db.sslmode -}}
{{- end -}}
{{- end }}

{{/*
Secret-backed environment (runbook §7.2), from the Secrets named in
.Values.secrets. Usage: include "essp.secretEnv" $
*/}}
{{- define "essp.secretEnv" -}}
{{- $s := .Values.secrets -}}
- name: PG_DSN
  valueFrom:
    secretKeyRef:
      name: {{ $s.database.name }}
      key: pg-dsn
      optional: {{ $s.database.optional }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $s.redis.name }}
      key: redis-password
      optional: {{ $s.redis.optional }}
- name: MINIO_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s.minio.name }}
      key: minio-access-key
      optional: {{ $s.minio.optional }}
- name: MINIO_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s.minio.name }}
      key: minio-secret-key
      optional: {{ $s.minio.optional }}
- name: NATS_USER
  valueFrom:
    secretKeyRef:
      name: {{ $s.nats.name }}
      key: nats-username
      optional: {{ $s.nats.optional }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $s.nats.name }}
      key: nats-password
      optional: {{ $s.nats.optional }}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $s.jwt.name }}
      key: jwt-secret
      optional: {{ $s.jwt.optional }}
{{- end }}

{{/*
Annotations that make chart-created Secrets exist before the migration hook
runs (hooks run before the release's ordinary objects).
*/}}
{{- define "essp.secretHookAnnotations" -}}
{{- if .Values.migrations.enabled }}
annotations:
  helm.sh/hook: pre-install,pre-upgrade
  helm.sh/hook-weight: "-10"
  helm.sh/hook-delete-policy: before-hook-creation
{{- end }}
{{- end }}
