#!/usr/bin/env bash
# Writes the test cluster's PKI with openssl into DIR: a CA, the API server's serving certificate, one client
# certificate per component (its CN is the user, O the group) and the service-account signing key.
#
#   pki.sh DIR NODE_IP SERVICE_IP NODE_NAME
#
# ECDSA P-256 keys; certificates last 30 days (a cluster lives for a test run or a working day).
set -euo pipefail
dir="$1" node_ip="$2" service_ip="$3" node_name="$4"
mkdir -p "$dir"
cd "$dir"
days=30

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null; }

openssl_conf() {
  cat <<EOF
[req]
distinguished_name = dn
[dn]
[ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = $1
${2:+subjectAltName = $2}
EOF
}

# issue <name> <subject> <extendedKeyUsage> [subjectAltName]
issue() {
  key "$1"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" -config <(openssl_conf "$3" "${4:-}") 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" -sha256 \
    -extfile <(openssl_conf "$3" "${4:-}") -extensions ext -out "$1.crt" 2>/dev/null
  rm -f "$1.csr"
}

key ca
openssl req -x509 -new -key ca.key -subj "/CN=sluice-cluster-ca" -days "$days" -sha256 -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null

issue apiserver "/CN=kube-apiserver" serverAuth \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$node_ip,IP:$service_ip,IP:127.0.0.1"
issue admin "/O=system:masters/CN=sluice-admin" clientAuth
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth
issue scheduler "/CN=system:kube-scheduler" clientAuth
issue kube-proxy "/CN=system:kube-proxy" clientAuth
issue kubelet "/O=system:nodes/CN=system:node:$node_name" clientAuth
issue kubelet-serving "/CN=$node_name" serverAuth "DNS:$node_name,IP:$node_ip"

openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out sa.key
openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
chmod 600 ./*.key
