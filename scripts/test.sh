#!/usr/bin/env bash
# Sets up whatever is missing, then runs every Casebook test and ends with one
# summary line "N passed, M failed".
#
#   scripts/test.sh                 every kind, in this order
#   scripts/test.sh native          Rust unit and integration tests (cargo test)
#   scripts/test.sh browser         wasm-bindgen tests in headless Chromium
#   scripts/test.sh e2e             builds the app (release), Playwright against it
#   scripts/test.sh lint            rustfmt and clippy (native and wasm32)
#   scripts/test.sh bench           the index benchmark at 1k, natively and in Chromium, in the
#                                   test profile: it must run and print its tables (the numbers
#                                   worth quoting come from scripts/bench.sh)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
SETUP_SECONDS=$SECONDS
cd "$CASEBOOK_ROOT"

export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT=300
LOGS="$CASEBOOK_ROOT/target/test-logs"
E2E_DIST="$CASEBOOK_ROOT/target/e2e-dist"
mkdir -p "$LOGS"

declare -a KINDS=()
declare -A PASSED=() FAILED=() SECONDS_TAKEN=()

# Counts the tests in cargo's "test result:" lines of a log.
cargo_counts() {
  local passed failed
  passed=$(grep -oE '^test result: .* ([0-9]+) passed' "$1" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
  failed=$(grep -oE '^test result: .* ([0-9]+) failed' "$1" | grep -oE '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
  echo "$passed $failed"
}

# Records a kind's counts; a command that failed without a failing test (a build
# error, a crash) counts as one failure so that it can never pass silently.
record() {
  local kind=$1 status=$2 passed=$3 failed=$4
  if [[ $status -ne 0 && $failed -eq 0 ]]; then
    failed=1
    echo "!! $kind: the command failed (exit $status) before reporting a failing test; see $LOGS/$kind.log" >&2
  fi
  KINDS+=("$kind")
  PASSED[$kind]=$passed
  FAILED[$kind]=$failed
}

run_native() {
  say "Native tests (cargo test)"
  cargo test --locked 2>&1 | tee "$LOGS/native.log"
  local status=${PIPESTATUS[0]}
  record native "$status" $(cargo_counts "$LOGS/native.log")
}

run_browser() {
  say "Browser tests (wasm-bindgen-test in headless Chromium)"
  cargo test --locked --target wasm32-unknown-unknown --test browser 2>&1 | tee "$LOGS/browser.log"
  local status=${PIPESTATUS[0]}
  record browser "$status" $(cargo_counts "$LOGS/browser.log")
}

run_e2e() {
  # The release build is what users get (wasm-opt, the service worker and the CSP
  # included), so that is what is tested; only fat LTO is left out: on two cores it
  # more than doubles the build and changes no behaviour the tests look at.
  say "Building the app for the end-to-end tests (trunk build --release, without LTO)"
  if ! CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
       trunk build --release --dist "$E2E_DIST" 2>&1 | tee "$LOGS/e2e-build.log"; then
    record e2e 1 0 0
    return
  fi
  say "End-to-end tests (Playwright, headless Chromium)"
  CASEBOOK_DIST="$E2E_DIST" node --test --test-timeout=420000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$LOGS/e2e.tap" \
    tests/e2e/ 2>&1 | tee "$LOGS/e2e.log"
  local status=${PIPESTATUS[0]}
  local passed failed
  passed=$(grep -oE '^# pass [0-9]+' "$LOGS/e2e.tap" | awk '{print $3}')
  failed=$(grep -oE '^# fail [0-9]+' "$LOGS/e2e.tap" | awk '{print $3}')
  record e2e "$status" "${passed:-0}" "${failed:-0}"
}

run_lint() {
  say "Lint (rustfmt, clippy native and wasm32)"
  local passed=0 failed=0 check
  for check in "cargo fmt --check" \
               "cargo clippy --locked --all-targets -- -D warnings" \
               "cargo clippy --locked --all-targets --target wasm32-unknown-unknown -- -D warnings"; do
    echo "\$ $check"
    if $check 2>&1 | tee -a "$LOGS/lint.log"; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
    fi
  done
  record lint 0 "$passed" "$failed"
}

# Runs after the native tests, whose SciFact run leaves the vectors it reads.
run_bench() {
  say "Index benchmark at 1k (test profile), native then headless Chromium"
  local status=0
  RAYON_NUM_THREADS=1 cargo run --locked --example index_bench -- 1k 2>&1 | tee "$LOGS/bench.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
  CASEBOOK_BENCH_SIZES=1k cargo test --locked --target wasm32-unknown-unknown --test browser_bench \
    -- --nocapture 2>&1 | tee -a "$LOGS/bench.log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
  record bench "$status" $((1 - status)) "$status"
}

kinds=("$@")
[[ ${#kinds[@]} -gt 0 ]] || kinds=(native bench browser e2e lint)
: > "$LOGS/lint.log"
for kind in "${kinds[@]}"; do
  case $kind in
    native|bench|browser|e2e|lint)
      started=$SECONDS
      "run_$kind"
      SECONDS_TAKEN[$kind]=$((SECONDS - started)) ;;
    *) fail "unknown test kind '$kind' (native, bench, browser, e2e, lint)" ;;
  esac
done

total_passed=0
total_failed=0
echo
echo "Summary (set-up took ${SETUP_SECONDS} s)"
for kind in "${KINDS[@]}"; do
  printf '  %-8s %4d passed, %d failed  (%d s)\n' "$kind" "${PASSED[$kind]}" "${FAILED[$kind]}" "${SECONDS_TAKEN[$kind]}"
  total_passed=$((total_passed + PASSED[$kind]))
  total_failed=$((total_failed + FAILED[$kind]))
done
echo "$total_passed passed, $total_failed failed"
[[ $total_failed -eq 0 ]]
