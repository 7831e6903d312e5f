#!/usr/bin/env bash
# Runs a command inside the tools virtual environment (.venv-tools), creating it from tools/requirements.txt first
# if needed. Used by `make goldens` and `make bench`; the tests never need it.
# TOOLS_REQUIREMENTS=tools/requirements-NAME.txt selects another environment, .venv-tools-NAME (the goldens of both
# transformers folder layouts need a 4.x and a 5.x transformers side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${TOOLS_REQUIREMENTS:-tools/requirements.txt}
name=$(basename "$requirements" .txt)
venv=.venv-tools${name#requirements}
if [ ! -x "$venv/bin/python" ] || [ "$requirements" -nt "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$requirements"
  touch "$venv/.installed"
fi
export PATH="$PWD/$venv/bin:$PATH"
exec "$@"
