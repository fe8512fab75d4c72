#!/usr/bin/env bash
# Creates .phoenix-venv (or $SPANSTREAM_PHOENIX_VENV) with the Arize Phoenix release that
# scripts/phoenix-requirements.txt pins. Does nothing when that venv already has it. Used by
# `make view`, .ci/run and the Phoenix tests; prints pip's output only when the install fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
requirements="$here/phoenix-requirements.txt"
venv="${SPANSTREAM_PHOENIX_VENV:-$root/.phoenix-venv}"
stamp="$venv/.installed-requirements.txt"

if [ -x "$venv/bin/phoenix" ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi
python="${PYTHON:-python3}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
started=$(date +%s)
if ! { "$python" -m venv "$venv" \
       && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$requirements"; } >"$log" 2>&1; then
  # pip's "Location ... is ignored" lines are noise from this machine's pip config.
  grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -40 >&2
  echo "phoenix-venv.sh: could not install $(grep -v '^#' "$requirements") into $venv" >&2
  exit 1
fi
cp "$requirements" "$stamp"
echo "phoenix-venv.sh: installed $(grep -v '^#' "$requirements") into $venv in $(( $(date +%s) - started ))s"
