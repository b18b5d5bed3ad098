#!/usr/bin/env bash
# Set-up steps for the user's tools (called by setup.sh, after the Python packages):
# the GPU build of TensorFlow when there is a GPU, the quiet TensorFlow start-up,
# and the project's Jupyter kernel. Idempotent and quick.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup: $*"; }

# requirements.txt pins the CPU build; on a machine with an NVIDIA GPU, swap in the
# GPU build of the same version with NVIDIA's CUDA wheels (tensorflow[and-cuda]).
# This swap is not hash-checked: requirements.txt pins no CUDA wheel (make freeze resolves
# on the CPU build, whose dependencies have none), so pip resolves them here, unpinned.
if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  if .venv/bin/pip show -q tensorflow-cpu >/dev/null 2>&1 || ! .venv/bin/pip show -q nvidia-cudnn-cu12 >/dev/null 2>&1; then
    version=$(sed -n 's/^tensorflow-cpu==\([^;]*\);.*/\1/p' requirements.txt)
    say "NVIDIA GPU found: installing tensorflow[and-cuda]==$version (~3 GB)"
    .venv/bin/pip uninstall -q -y tensorflow-cpu
    # The two builds share their files: reinstall the GPU one whole.
    .venv/bin/pip install -q --force-reinstall --no-deps "tensorflow==$version"
    .venv/bin/pip install -q "tensorflow[and-cuda]==$version"
  fi
fi

.venv/bin/python -m bnbook.tooling.quiet >/dev/null   # .pth: quiet `import tensorflow`
# The kernel that `make lab` offers ("Python (bnbook)"), in the .venv, not in ~.
if [ ! -f .venv/share/jupyter/kernels/bnbook/kernel.json ]; then
  .venv/bin/python -m ipykernel install --sys-prefix --name bnbook \
    --display-name "Python (bnbook)" >/dev/null
  say "registered the Jupyter kernel 'bnbook'"
fi
# JupyterLab never asks to fetch news or check for updates: this machine has no internet
# beyond the package registries, and the book needs neither.
overrides=.venv/share/jupyter/lab/settings/overrides.json
if [ ! -f "$overrides" ]; then
  mkdir -p "$(dirname "$overrides")"
  printf '%s\n' '{"@jupyterlab/apputils-extension:notification":' \
    '  {"fetchNews": "false", "checkForUpdates": false}}' > "$overrides.tmp"
  mv "$overrides.tmp" "$overrides"
fi
