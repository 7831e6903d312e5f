#!/usr/bin/env bash
# Runs a command inside the tools virtual environment (.venv-tools), creating it from tools/requirements.txt first
# if needed. Used by `make goldens` and `make bench`; the tests never need it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-tools
if [ ! -x "$venv/bin/python" ] || [ tools/requirements.txt -nt "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r tools/requirements.txt
  touch "$venv/.installed"
fi
export PATH="$PWD/$venv/bin:$PATH"
exec "$@"
