#!/usr/bin/env bash
# `make freeze`: requirements.txt's exact pins, resolved afresh from requirements.in
# in a throw-away virtual environment, then hashed from PyPI (scripts/hash_pins.py; ~3
# minutes). Review the diff, then `make setup`. pip's own pin (requirements-pip.txt) keeps
# its version and is re-hashed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q -r requirements.in
{
  # The comment at the top of requirements.txt, kept as it is.
  sed -n '/^#/!q; p' requirements.txt
  grep -E '^tensorflow(-cpu)?==' requirements.in
  # --all: setuptools and wheel too, which some pins need and --require-hashes must see
  # pinned; pip has its own file.
  "$tmp/venv/bin/pip" freeze --all --exclude-editable | grep -viE '^(pip|tensorflow([-_]cpu)?)=='
} > "$tmp/requirements.txt"
"$tmp/venv/bin/python" scripts/hash_pins.py "$tmp/requirements.txt" requirements-pip.txt
cp "$tmp/requirements.txt" requirements.txt.tmp && mv requirements.txt.tmp requirements.txt
echo "freeze: requirements.txt regenerated from requirements.in ($(grep -c '==' requirements.txt) pins)"
