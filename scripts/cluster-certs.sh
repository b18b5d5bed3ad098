#!/usr/bin/env bash
# `make cluster-certs`: the TLS files a Dask cluster of this project needs, in one folder
# (default cluster-certs/): ca.pem (a new certificate authority), node.pem and node-key.pem
# (one certificate it signed, for the scheduler, every worker and the build alike).
# The authority's key is deleted once it has signed: nobody can issue a second certificate,
# so only machines that hold this folder can join. Copy it to each of them privately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${1:-cluster-certs}
DAYS=${CLUSTER_CERT_DAYS:-365}

if [ -e "$DIR" ]; then
  echo "error: $DIR already exists; delete it to make new certificates (then copy them to every machine again)" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "error: openssl is missing; run \`make setup\`" >&2; exit 1; }
umask 077                     # the key is readable by its owner only
tmp=$(mktemp -d "${DIR%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT     # never a half-made folder

ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/ca-key.pem" -out "$tmp/ca.pem" -days "$DAYS" \
  -subj "/CN=bnbook cluster CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req "${ec[@]}" -keyout "$tmp/node-key.pem" -out "$tmp/node.csr" \
  -subj "/CN=bnbook cluster node" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:bnbook-cluster-node" > "$tmp/node.ext"
openssl x509 -req -in "$tmp/node.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -extfile "$tmp/node.ext" \
  -out "$tmp/node.pem" 2>/dev/null
rm -f "$tmp/ca-key.pem" "$tmp/node.csr" "$tmp/node.ext"
chmod 644 "$tmp/ca.pem" "$tmp/node.pem"
mv "$tmp" "$DIR"
trap - EXIT
echo "cluster-certs: $DIR/{ca.pem,node.pem,node-key.pem}, valid $DAYS days; copy $DIR to each cluster machine's clone (scp -r, never by mail or a public place)"
