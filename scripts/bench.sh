#!/usr/bin/env bash
# Benchmarks; each prints a table of numbers. (Speed targets are checked here, by
# reading the numbers, not by timed tests.)
#
#   scripts/bench.sh embed                 embedding: native, then headless Chromium vs onnxruntime-web
#   scripts/bench.sh index [SIZES]         vector index: native, then headless Chromium (SIZES such
#                                          as 1k,10k,100k, the default); takes about an hour at 100k
#   scripts/bench.sh index --small         the same at 1k only (a quick check, e.g. in CI)
#   scripts/bench.sh chat [COUNT]          chat: Enter → provider request in headless Chromium with
#                                          COUNT memories (10000 by default)
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

# Graph builds run on one thread natively too, as in the browser's worker. The
# Chromium run reads its settings when it is compiled (a wasm test gets no
# arguments) and the SciFact vectors the native run leaves in target/bench-data.
bench_chat() {
  build_release_app
  say "Chat latency, headless Chromium ($1 memories)"
  CASEBOOK_DIST="$DIST" node tests/bench/chat_bench.mjs "$1"
}

bench_index() {
  local sizes=$1
  say "Vector index, native (sizes $sizes)"
  RAYON_NUM_THREADS=1 cargo run --quiet --profile bench --example index_bench -- "$sizes"
  say "Vector index, headless Chromium (sizes $sizes)"
  CASEBOOK_BENCH_SIZES="$sizes" CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=14400 \
    cargo test --profile bench --target wasm32-unknown-unknown --test browser_bench -- --nocapture
}

[[ $# -gt 0 ]] || set -- embed
while [[ $# -gt 0 ]]; do
  bench=$1
  shift
  case $bench in
    embed) bench_embed ;;
    index)
      sizes=1k,10k,100k
      while [[ $# -gt 0 && ( $1 == --small || $1 =~ ^[0-9] ) ]]; do
        if [[ $1 == --small ]]; then sizes=1k; else sizes=$1; fi
        shift
      done
      bench_index "$sizes"
      ;;
    chat)
      count=10000
      if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then count=$1; shift; fi
      bench_chat "$count"
      ;;
    *) fail "unknown benchmark '$bench' (embed, index, chat)" ;;
  esac
done
