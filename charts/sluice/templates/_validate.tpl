{{/*
Cross-field rules the schema cannot express: the chart's own here; the apps' own (on `config`) and the grace
periods their exit bounds ask for, generated into _config-rules.tpl. Every problem is collected, then one `fail` lists them all, so a user fixes their values in
one pass. values.schema.json has already checked types, enums and bounds.
*/}}
{{- define "sluice.validateValues" -}}
{{- $v := .Values -}}
{{- $c := $v.config -}}
{{- $problems := list -}}
{{- /* The apps' own rules and exit bounds, generated from theirs (_config-rules.tpl). */ -}}
{{- range splitList "\n" (include "sluice.configRuleProblems" .) -}}
{{- if . -}}{{- $problems = append $problems . -}}{{- end -}}
{{- end -}}

{{- if gt (int64 $v.scaling.minReplicas) (int64 $v.scaling.maxReplicas) -}}
{{- $problems = append $problems (printf "scaling.minReplicas (%d) must not exceed scaling.maxReplicas (%d)" (int64 $v.scaling.minReplicas) (int64 $v.scaling.maxReplicas)) -}}
{{- end -}}
{{- $ingressScaling := $v.ingress.autoscaling -}}
{{- if $ingressScaling.enabled -}}
{{- if gt (int64 $ingressScaling.minReplicas) (int64 $ingressScaling.maxReplicas) -}}
{{- $problems = append $problems (printf "ingress.autoscaling.minReplicas (%d) must not exceed ingress.autoscaling.maxReplicas (%d)" (int64 $ingressScaling.minReplicas) (int64 $ingressScaling.maxReplicas)) -}}
{{- end -}}
{{- if not (dig "requests" "cpu" "" ($v.ingress.resources | default dict)) -}}
{{- $problems = append $problems "ingress.autoscaling scales on CPU use as a share of the CPU request: set ingress.resources.requests.cpu" -}}
{{- end -}}
{{- end -}}
{{- if and $v.autoscaler.enabled $v.keda.enabled -}}
{{- $problems = append $problems "autoscaler.enabled and keda.enabled both scale the worker Deployment: enable one (set autoscaler.enabled=false to use KEDA)" -}}
{{- end -}}

{{- if $v.nats.builtin.enabled -}}
{{- if $v.nats.url -}}
{{- $problems = append $problems (printf "nats.url (%s) is for an external NATS: set nats.builtin.enabled=false, or leave nats.url empty to use the built-in NATS" $v.nats.url) -}}
{{- end -}}
{{- if eq $v.nats.auth.type "credsFile" -}}
{{- $problems = append $problems "nats.auth.type=credsFile needs an external NATS with JWT accounts (nats.builtin.enabled=false); the built-in NATS supports none, userPassword and token" -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $c.QUEUE_REPLICAS)) (gt (int64 $c.QUEUE_REPLICAS) (int64 $v.nats.builtin.replicas)) -}}
{{- $problems = append $problems (printf "config.QUEUE_REPLICAS (%d) exceeds the built-in NATS's nats.builtin.replicas (%d)" (int64 $c.QUEUE_REPLICAS) (int64 $v.nats.builtin.replicas)) -}}
{{- end -}}
{{- /* JetStream reserves each stream's max bytes up front and refuses a stream past max_file_store. */ -}}
{{- $js := $v.nats.builtin.jetstream -}}
{{- $fileBytes := add (int64 $c.QUEUE_DLQ_MAX_BYTES) (int64 $c.JOB_STATUS_MAX_BYTES) -}}
{{- if eq $c.QUEUE_STORAGE "memory" -}}
{{- if gt (int64 $c.QUEUE_MAX_BYTES) (include "sluice.natsSizeBytes" $js.maxMemoryStore | int64) -}}
{{- $problems = append $problems (printf "config.QUEUE_MAX_BYTES (%d) exceeds nats.builtin.jetstream.maxMemoryStore (%s): JetStream would refuse to create the queue stream" (int64 $c.QUEUE_MAX_BYTES) $js.maxMemoryStore) -}}
{{- end -}}
{{- else -}}
{{- $fileBytes = add $fileBytes (int64 $c.QUEUE_MAX_BYTES) -}}
{{- end -}}
{{- if gt $fileBytes (include "sluice.natsSizeBytes" $js.maxFileStore | int64) -}}
{{- $problems = append $problems (printf "nats.builtin.jetstream.maxFileStore (%s) is below what the file streams reserve (QUEUE_MAX_BYTES + QUEUE_DLQ_MAX_BYTES + JOB_STATUS_MAX_BYTES = %d bytes): JetStream would refuse to create them (insufficient storage resources)" $js.maxFileStore $fileBytes) -}}
{{- end -}}
{{- else if not $v.nats.url -}}
{{- $problems = append $problems "nats.url is required when nats.builtin.enabled=false (e.g. nats://nats.nats.svc:4222)" -}}
{{- end -}}

{{- $auth := $v.nats.auth -}}
{{- if and (ne $auth.type "none") (not $auth.existingSecret) -}}
{{- if and (eq $auth.type "userPassword") (or (not $auth.user) (not $auth.password)) -}}
{{- $problems = append $problems "nats.auth.type=userPassword needs nats.auth.user and nats.auth.password (or nats.auth.existingSecret)" -}}
{{- end -}}
{{- if and (eq $auth.type "token") (not $auth.token) -}}
{{- $problems = append $problems "nats.auth.type=token needs nats.auth.token (or nats.auth.existingSecret)" -}}
{{- end -}}
{{- if and (eq $auth.type "credsFile") (not $auth.creds) -}}
{{- $problems = append $problems "nats.auth.type=credsFile needs nats.auth.creds (or nats.auth.existingSecret)" -}}
{{- end -}}
{{- end -}}

{{- if $v.nats.tls.enabled -}}
{{- if $v.nats.builtin.enabled -}}
{{- $problems = append $problems "nats.tls is for an external NATS; the built-in NATS serves plain NATS inside the cluster (use networkPolicy.enabled=true to fence it)" -}}
{{- end -}}
{{- if not $v.nats.tls.existingSecret -}}
{{- $problems = append $problems "nats.tls.enabled needs nats.tls.existingSecret (a Secret with ca.crt, and tls.crt/tls.key for mutual TLS)" -}}
{{- end -}}
{{- end -}}
{{- if and (eq $c.INGRESS_AUTH "api-key") (not $v.ingress.apiKeys.existingSecret) -}}
{{- $problems = append $problems "config.INGRESS_AUTH=api-key needs ingress.apiKeys.existingSecret (a Secret with the keys file)" -}}
{{- end -}}


{{- if and $v.keda.enabled (not $v.nats.builtin.enabled) (not $v.keda.natsServerMonitoringEndpoint) -}}
{{- $problems = append $problems "keda.natsServerMonitoringEndpoint is required with an external NATS (host:port of its monitoring port, e.g. nats.nats.svc:8222)" -}}
{{- end -}}
{{- if and $v.keda.enabled $v.networkPolicy.enabled (not $v.keda.operatorPodLabels) -}}
{{- $problems = append $problems "keda.operatorPodLabels must name KEDA's operator pods (e.g. app.kubernetes.io/name: keda-operator): empty would open the NATS monitoring port, which has no authentication, to every pod in KEDA's namespace" -}}
{{- end -}}
{{- if and (ne $v.ingress.service.type "NodePort") (ne $v.ingress.service.type "LoadBalancer") (gt (int64 $v.ingress.service.nodePort) 0) -}}
{{- $problems = append $problems (printf "ingress.service.nodePort (%d) needs ingress.service.type NodePort or LoadBalancer, not %s" (int64 $v.ingress.service.nodePort) $v.ingress.service.type) -}}
{{- end -}}

{{- /* Your own jobs (docs/your-own-jobs.md). */ -}}
{{- $workerImage := $v.worker.image -}}
{{- if and $workerImage.repository (not $workerImage.tag) (not $workerImage.digest) -}}
{{- $problems = append $problems (printf "worker.image.repository (%s) needs worker.image.tag or worker.image.digest: the chart's appVersion is the Sluice image's, not yours" $workerImage.repository) -}}
{{- end -}}
{{- if and $v.jobTypes $v.tests.enabled (not (hasKey $v.jobTypes $v.tests.jobType)) -}}
{{- $problems = append $problems (printf "tests.jobType (%s) is not in jobTypes (%s): the ingress would refuse the smoke test's jobs; set tests.jobType to a type your workers handle" $v.tests.jobType (keys $v.jobTypes | sortAlpha | join ", ")) -}}
{{- end -}}
{{- if and $v.jobTypes (ne $c.INGRESS_SEED_ROUTE "off") (not (hasKey $v.jobTypes "user")) -}}
{{- $problems = append $problems (printf "config.INGRESS_SEED_ROUTE is %s, but jobTypes lacks `user`, the type it enqueues: every seed request would be a 400; list user in jobTypes or set config.INGRESS_SEED_ROUTE=off" $c.INGRESS_SEED_ROUTE) -}}
{{- end -}}
{{- $httpPush := or $c.WORKER_HTTP_URL $c.WORKER_HTTP_TYPE_URLS -}}
{{- if and $v.networkPolicy.enabled $httpPush (not $v.networkPolicy.workerHttpEgress) -}}
{{- $problems = append $problems "config.WORKER_HTTP_URL or WORKER_HTTP_TYPE_URLS is set, but with networkPolicy.enabled the workers may reach only NATS and DNS: add networkPolicy.workerHttpEgress (egress rules to your endpoints)" -}}
{{- end -}}
{{- $scaled := $v.worker.http.scaledDeployments -}}
{{- if and $scaled (not $v.autoscaler.enabled) -}}
{{- $problems = append $problems "worker.http.scaledDeployments needs autoscaler.enabled: its QueueScalers are reconciled by the chart's autoscaler" -}}
{{- end -}}
{{- $workerDeployment := include "sluice.componentName" (dict "ctx" . "component" "worker") -}}
{{- $seen := dict -}}
{{- range $scaled -}}
{{- if or (eq .name $workerDeployment) (hasKey $seen .name) -}}
{{- $problems = append $problems (printf "worker.http.scaledDeployments names %s twice (the workers' Deployment counts): two QueueScalers would fight over its replicas" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- $policy := merge (omit . "name") $v.scaling -}}
{{- if gt (int64 $policy.minReplicas) (int64 $policy.maxReplicas) -}}
{{- $problems = append $problems (printf "worker.http.scaledDeployments %s: minReplicas (%d) must not exceed maxReplicas (%d)" .name (int64 $policy.minReplicas) (int64 $policy.maxReplicas)) -}}
{{- end -}}
{{- end -}}

{{- if $problems -}}
{{- $count := printf "%d %s" (len $problems) (ternary "problem" "problems" (eq (len $problems) 1)) -}}
{{- fail (printf "\n\nInvalid values for the sluice chart (%s):\n  - %s\n" $count (join "\n  - " $problems)) -}}
{{- end -}}
{{- end -}}

{{/*
Bytes of a nats-server size (256MiB, 1GiB, 2G, 512), read as nats-server reads them: a bare letter is
decimal (1G = 10^9), with B, i or iB binary (1GB = 1GiB = 2^30).
*/}}
{{- define "sluice.natsSizeBytes" -}}
{{- $size := lower (toString .) -}}
{{- $digits := regexFind "^[0-9]+" $size -}}
{{- $suffix := trimPrefix $digits $size -}}
{{- $power := get (dict "k" 1 "m" 2 "g" 3 "t" 4) (substr 0 1 $suffix) | default 0 -}}
{{- $base := ternary 1000 1024 (eq (len $suffix) 1) -}}
{{- $bytes := int64 $digits -}}
{{- range until (int $power) -}}{{- $bytes = mul $bytes $base -}}{{- end -}}
{{- $bytes -}}
{{- end -}}
