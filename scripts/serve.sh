#!/usr/bin/env bash
# Sets up whatever is missing, then serves Casebook at http://127.0.0.1:8080 with
# live reload. Extra arguments go to `trunk serve` (e.g. --release, --port 9000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
cd "$CASEBOOK_ROOT"
say "Serving Casebook on http://127.0.0.1:8080 (Ctrl+C stops)"
exec trunk serve "$@"
