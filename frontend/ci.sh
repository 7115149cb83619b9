#!/usr/bin/env bash
# The dashboard's checks, from a clean frontend/: install from the lockfile, typecheck, unit
# tests, build into src/inescape/web/static, then the end-to-end run, which starts
# `inescape serve` itself (the repository's .venv) and drives the system Chromium.
#
# `frontend/ci.sh build` runs the first four steps only and `frontend/ci.sh e2e` the browser runs
# only, so CI can build beside lint and run the browser beside the Python suite; no argument runs
# both, in order.
set -euo pipefail
phase=${1:-all}
case "$phase" in all|build|e2e) ;; *) echo "usage: frontend/ci.sh [build|e2e]" >&2; exit 2 ;; esac
cd "$(dirname "$0")"
started=$SECONDS
log() { printf '[frontend +%ss] %s\n' "$((SECONDS - started))" "$*"; }

node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || { echo "frontend/ci.sh needs Node.js >= 20.19 (found $(node --version))" >&2; exit 1; }
if [ "$phase" != build ]; then
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] \
    || { echo "frontend/ci.sh needs Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium} (apt-get install -y chromium)" >&2; exit 1; }
fi

if [ "$phase" != e2e ]; then
log "npm ci"
npm ci --no-audit --no-fund
log "typecheck"
npm run typecheck
log "unit tests"
npx vitest run
log "build"
npm run build
fi

if [ "$phase" != build ]; then
log "end-to-end"
node e2e/run.mjs
log "end-to-end: the cohort explorer on a loaded cohort"
node e2e/cohort.mjs
log "end-to-end: the demo, from a bare data folder to decision support"
node e2e/demo.mjs
fi
log "done"
