{{/*
nats-server's GOMEMLIMIT: 90 % of its container's memory limit, in bytes; empty without a limit.

Without it Go's collector only aims at twice the live heap, so a server whose heap grows (a long duplicate
window at a high rate, many consumers) can be killed by the kernel before the collector runs. With it the
collector works harder as the heap nears the limit instead. The 10 % left is for what Go does not count
against it: the binary, thread stacks, and the file store's buffers outside the heap. The nats-io/k8s chart
does the same.

Call with the limit (a Kubernetes quantity, or a number of bytes: what values.schema.json admits), or "" for
none.
*/}}
{{- define "sluice.nats.goMemLimit" -}}
{{- $bytes := 0 -}}
{{- if and (kindIs "string" .) . -}}
{{- $units := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- $number := regexReplaceAll "^([0-9.]+)([A-Za-z]*)$" . "${1}" -}}
{{- $unit := regexReplaceAll "^([0-9.]+)([A-Za-z]*)$" . "${2}" -}}
{{- if not (hasKey $units $unit) -}}
{{- fail (printf "nats.builtin.resources.limits.memory %q is not a Kubernetes quantity (e.g. 1Gi, 512Mi, 2G)" .) -}}
{{- end -}}
{{- $bytes = mulf (float64 $number) (get $units $unit) 0.9 | floor | int64 -}}
{{- else if . -}}
{{- $bytes = mulf (float64 .) 0.9 | floor | int64 -}}
{{- end -}}
{{- /* Never 0: to Go that means collecting without pause. */ -}}
{{- if gt $bytes 0 }}{{ $bytes }}{{ end -}}
{{- end -}}
