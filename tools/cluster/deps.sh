#!/usr/bin/env bash
# Installs the Debian packages the test cluster and its image builds need, when one is missing (root, apt).
set -euo pipefail
packages=(buildah mmdebstrap containerd runc containernetworking-plugins iptables conntrack socat uidmap gcc libc6-dev openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
((EUID == 0)) || { echo "the test cluster needs these Debian packages (as root: apt-get install ${missing[*]})" >&2; exit 1; }
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
