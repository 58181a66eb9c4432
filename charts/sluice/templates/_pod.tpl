{{/*
Pieces every Sluice pod shares: the one ConfigMap, NATS credentials from the Secret, the security context.
*/}}

{{/* Pod-level settings of every app pod. Service links off: variables such as WORKER_PORT=tcp://... that
Kubernetes injects for Services would collide with the apps' own settings, and the apps refuse unknown
QUEUE_/JOB_/INGRESS_/WORKER_/AUTOSCALE_/AUTOSCALER_ variables. */}}
{{- define "sluice.podSpecCommon" -}}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Environment of every app container: the shared ConfigMap plus the NATS credentials from the Secret.
Call with (dict "ctx" $ "extraEnv" (list ...)); extraEnv is optional. */}}
{{- define "sluice.appEnv" -}}
{{- $v := .ctx.Values -}}
envFrom:
  - configMapRef:
      name: {{ include "sluice.configMapName" .ctx }}
{{- $secret := include "sluice.nats.secretName" .ctx -}}
{{- $fromSecret := dict -}}
{{- if eq $v.nats.auth.type "userPassword" -}}
{{- $fromSecret = dict "NATS_USER" "user" "NATS_PASSWORD" "password" -}}
{{- else if eq $v.nats.auth.type "token" -}}
{{- $fromSecret = dict "NATS_TOKEN" "token" -}}
{{- end -}}
{{- $env := list -}}
{{- range $name := keys $fromSecret | sortAlpha -}}
{{- $env = append $env (dict "name" $name "valueFrom" (dict "secretKeyRef" (dict "name" $secret "key" (index $fromSecret $name)))) -}}
{{- end -}}
{{- $env = concat $env (default list .extraEnv) -}}
{{- with $env }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
JOB_CALLBACK_SIGNING_SECRET from callbacks.signingSecret's Secret, as a list of env entries (empty without
one): the ingress and the workers both send callbacks, and sign them with the same key.
*/}}
{{- define "sluice.callbackSigningEnv" -}}
{{- $env := list }}
{{- with .Values.callbacks.signingSecret }}
{{- if .existingSecret }}
{{- $env = list (dict "name" "JOB_CALLBACK_SIGNING_SECRET" "valueFrom" (dict "secretKeyRef" (dict "name" .existingSecret "key" .key))) }}
{{- end }}
{{- end }}
{{- toJson $env }}
{{- end }}

{{/* Volumes every app pod mounts: a writable /tmp (the root filesystem is read-only) and the .creds file. */}}
{{- define "sluice.appVolumes" -}}
- name: tmp
  emptyDir: { sizeLimit: 64Mi }
{{- if eq .Values.nats.auth.type "credsFile" }}
- name: nats-creds
  secret:
    secretName: {{ include "sluice.nats.secretName" . }}
    defaultMode: 0440
    items:
      - key: creds
        path: nats.creds
{{- end }}
{{- if .Values.nats.tls.enabled }}
- name: nats-tls
  secret:
    secretName: {{ .Values.nats.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}
{{- define "sluice.appVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if eq .Values.nats.auth.type "credsFile" }}
- name: nats-creds
  mountPath: /etc/sluice/nats
  readOnly: true
{{- end }}
{{- if .Values.nats.tls.enabled }}
- name: nats-tls
  mountPath: /etc/sluice/nats-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* The job types file (jobTypes) as a pod volume and a container mount, for the ingress and worker pods when
jobTypes is set; and the annotation that rolls them when it changes (the apps read the file once, at start). */}}
{{- define "sluice.jobTypesVolume" -}}
- name: job-types
  configMap:
    name: {{ include "sluice.jobTypesConfigMapName" . }}
{{- end -}}
{{- define "sluice.jobTypesVolumeMount" -}}
- name: job-types
  mountPath: {{ include "sluice.jobTypesDir" . }}
  readOnly: true
{{- end -}}
{{- define "sluice.jobTypesChecksum" -}}
checksum/job-types: {{ include (print $.Template.BasePath "/job-types-configmap.yaml") . | sha256sum }}
{{- end -}}

{{/* The container security context (non-root, read-only root filesystem, no capabilities). */}}
{{- define "sluice.containerSecurityContext" -}}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* HTTP probes on a named port: startup and liveness on /healthz, readiness on /readyz. */}}
{{- define "sluice.httpProbes" -}}
startupProbe:
  httpGet: { path: /healthz, port: {{ .port }} }
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: { path: /healthz, port: {{ .port }} }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: {{ .port }} }
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Scheduling of one component: node selector, tolerations, affinity, topology spread. Call with
(dict "ctx" $ "component" "worker" "values" .Values.worker). */}}
{{- define "sluice.scheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $selector := include "sluice.selectorLabels" . | fromYaml -}}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
{{- range . }}
  - {{ toYaml (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" $selector))) | nindent 4 | trim }}
{{- end }}
{{- end }}
{{- end -}}
