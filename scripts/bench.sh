#!/usr/bin/env bash
# Benchmarks; each prints a table of numbers. (Speed targets are checked here, by
# reading the numbers, not by timed tests.)
#
#   scripts/bench.sh embed     embedding: native, then headless Chromium vs onnxruntime-web
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
cd "$CASEBOOK_ROOT"
DIST="$CASEBOOK_ROOT/target/e2e-dist"

build_release_app() {
  say "Building the release app (trunk build --release)"
  trunk build --release --dist "$DIST" >/dev/null
}

bench_embed() {
  say "Embedding, native"
  cargo run --quiet --profile bench --example embed_bench
  build_release_app
  say "Embedding, headless Chromium"
  CASEBOOK_DIST="$DIST" node tests/bench/embed_bench.mjs
}

[[ $# -gt 0 ]] || set -- embed
for bench in "$@"; do
  case $bench in
    embed) bench_embed ;;
    *) fail "unknown benchmark '$bench' (embed)" ;;
  esac
done
