{{- define "comments.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "comments.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "comments.selectorLabels" -}}
app.kubernetes.io/name: {{ include "comments.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "comments.labels" -}}
{{ include "comments.selectorLabels" . }}
{{ include "comments.releaseLabels" . }}
{{- end -}}

{{- /* What every object of the release says besides its selector labels. */ -}}
{{- define "comments.releaseLabels" -}}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "comments.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ include "comments.fullname" . }}{{- else -}}default{{- end -}}
{{- end -}}

{{- /* The migration Job's Pods: not the Deployment's, so neither its Service, PDB, HPA nor
NetworkPolicy selects them. */ -}}
{{- define "comments.migrateSelectorLabels" -}}
app.kubernetes.io/name: {{ include "comments.name" . }}-migrate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: migrate
{{- end -}}

{{- define "comments.migrateLabels" -}}
{{ include "comments.migrateSelectorLabels" . }}
{{ include "comments.releaseLabels" . }}
{{- end -}}

{{- /* The migration's own ServiceAccount, a hook made just before the Job: the chart's
ServiceAccount is made with the release's other objects, after the pre-install/PreSync hooks, so
on a first install the Job could not start with it. Without serviceAccount.create, the one the
Deployment uses. */ -}}
{{- define "comments.migrateServiceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ include "comments.fullname" . }}-migrate{{- else -}}{{ include "comments.serviceAccountName" . }}{{- end -}}
{{- end -}}

{{- /* Hook annotations for Helm and Argo CD: run before the release's objects change, on every
install/upgrade (Helm) and every sync (Argo CD), after deleting the previous run's object. Argo CD
reads its own annotations and ignores the helm.sh/hook ones when both are there, so it runs once;
the weight orders hooks (lowest first) in both. */ -}}
{{- define "comments.preSyncHook" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ . | quote }}
helm.sh/hook-delete-policy: before-hook-creation
argocd.argoproj.io/hook: PreSync
argocd.argoproj.io/sync-wave: {{ . | quote }}
argocd.argoproj.io/hook-delete-policy: BeforeHookCreation
{{- end -}}

{{- define "comments.image" -}}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- end -}}

{{- /* Pod and container securityContext: uid 10001, read-only root, no privilege, no capability. */ -}}
{{- define "comments.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "comments.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{- /* The database: its URL from the Secret, and the bounds on every wait on it. */ -}}
{{- define "comments.databaseEnv" -}}
- name: DB_CONNECT_TIMEOUT
  value: {{ .Values.database.connectTimeoutSeconds | quote }}
- name: DB_STATEMENT_TIMEOUT
  value: {{ .Values.database.statementTimeoutSeconds | quote }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.urlKey }}
{{- end -}}
