#!/usr/bin/env bash
# `make freeze`: requirements.txt's exact pins, resolved afresh from requirements.in
# in a throw-away virtual environment (~2 minutes). Review the diff, then `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q -r requirements.in
{
  echo "# Exact pins for everything; regenerate with \`make freeze\` after changing requirements.in."
  echo "# TensorFlow: the CPU build on Linux x86_64, the regular wheel elsewhere (set-up swaps in"
  echo "# tensorflow[and-cuda] of the same version when nvidia-smi finds a GPU)."
  grep -E '^tensorflow(-cpu)?==' requirements.in
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -viE '^tensorflow([-_]cpu)?=='
  echo "# Our own package, editable, so notebooks import the code in src/."
  echo "-e ."
} > requirements.txt.tmp
mv requirements.txt.tmp requirements.txt
echo "freeze: requirements.txt regenerated from requirements.in ($(grep -c '==' requirements.txt) pins)"
