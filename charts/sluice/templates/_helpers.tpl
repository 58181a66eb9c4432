{{/*
Names and labels shared by every template (the nats-io/k8s and bitnami conventions).
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>" (or just the release when it already contains the chart name), at most 63 characters. */}}
{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one component's objects: "<fullname>-<component>". Call with (dict "ctx" $ "component" "worker"). */}}
{{- define "sluice.componentName" -}}
{{- printf "%s-%s" (include "sluice.fullname" .ctx | trunc (int (sub 62 (len .component)))) .component | trimSuffix "-" -}}
{{- end -}}

{{/* "<chart>-<version>", for the helm.sh/chart label. */}}
{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component; never change them (Deployment selectors are immutable). */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of one component's objects. Call with (dict "ctx" $ "component" "worker"). */}}
{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" .ctx }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: sluice
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The Sluice image reference; a digest wins over the tag. */}}
{{- define "sluice.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The workers' image: worker.image when it names a repository (your handlers), else the Sluice image. */}}
{{- define "sluice.workerImage" -}}
{{- with .Values.worker.image -}}
{{- if not .repository -}}
{{- include "sluice.image" $ -}}
{{- else if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap holding the job types file (jobTypes), and where the ingress and worker pods mount it. */}}
{{- define "sluice.jobTypesConfigMapName" -}}
{{- include "sluice.componentName" (dict "ctx" . "component" "job-types") -}}
{{- end -}}
{{- define "sluice.jobTypesDir" -}}/etc/sluice/job-types{{- end -}}

{{/* The job NOTES.txt tells the user to enqueue: the smoke test's, a type the workers run. */}}
{{- define "sluice.notesJob" -}}
{{- dict "type" .Values.tests.jobType "payload" .Values.tests.payload | toJson -}}
{{- end -}}

{{/* The ConfigMap every app reads. */}}
{{- define "sluice.configMapName" -}}
{{- include "sluice.componentName" (dict "ctx" . "component" "config") -}}
{{- end -}}

{{/* The built-in NATS: StatefulSet and client Service name, and its headless Service. */}}
{{- define "sluice.nats.name" -}}
{{- include "sluice.componentName" (dict "ctx" . "component" "nats") -}}
{{- end -}}
{{- define "sluice.nats.headlessName" -}}
{{- include "sluice.componentName" (dict "ctx" . "component" "nats-headless") -}}
{{- end -}}

{{/* The NATS URL the apps use: nats.url, or the built-in NATS's client Service. */}}
{{- define "sluice.nats.url" -}}
{{- if .Values.nats.builtin.enabled -}}
{{- printf "nats://%s.%s.svc:4222" (include "sluice.nats.name" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/* Whether NATS credentials are configured ("true" or ""). */}}
{{- define "sluice.nats.hasCredentials" -}}
{{- if ne .Values.nats.auth.type "none" -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the NATS credentials: an existing one, or the chart's. */}}
{{- define "sluice.nats.secretName" -}}
{{- default (include "sluice.componentName" (dict "ctx" . "component" "nats-auth")) .Values.nats.auth.existingSecret -}}
{{- end -}}

{{/* The Secret holding the built-in NATS cluster's routes and their credentials. */}}
{{- define "sluice.nats.routesSecretName" -}}
{{- include "sluice.componentName" (dict "ctx" . "component" "nats-routes") -}}
{{- end -}}

{{/* The stream replicas: config.QUEUE_REPLICAS, else the built-in NATS's size, else 1. */}}
{{- define "sluice.queueReplicas" -}}
{{- if not (kindIs "invalid" .Values.config.QUEUE_REPLICAS) -}}
{{- int64 .Values.config.QUEUE_REPLICAS -}}
{{- else if .Values.nats.builtin.enabled -}}
{{- int64 .Values.nats.builtin.replicas -}}
{{- else -}}
1
{{- end -}}
{{- end -}}

{{/* Whether the worker Deployment's replicas belong to a scaler ("true" or ""). */}}
{{- define "sluice.worker.scaled" -}}
{{- if or .Values.autoscaler.enabled .Values.keda.enabled -}}true{{- end -}}
{{- end -}}

{{/*
A config value as an environment string: whole numbers without exponent (Helm reads YAML numbers as floats),
lists joined with commas.
*/}}
{{- define "sluice.envValue" -}}
{{- if kindIs "slice" . -}}
{{- $items := list -}}
{{- range . -}}{{- $items = append $items (include "sluice.envValue" .) -}}{{- end -}}
{{- join "," $items -}}
{{- else if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) -}}
{{- int64 . | toString -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}
