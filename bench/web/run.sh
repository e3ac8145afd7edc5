#!/bin/sh
# SPDX-License-Identifier: MIT
# The web app's benchmark (docs/BENCHMARKS.md, "The web app: the builder"): the bytes the
# sign-in page and the builder transfer, and a 300-node workflow opened, laid out and clicked,
# in headless Chromium against a fresh ASan server and the test PostgreSQL that tests/run.sh
# starts. The spec is web/bench/builder.bench.ts; the figures are printed and written to
# build/bench/web.json.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
make --no-print-directory VARIANT=asan all >/dev/null
MH_PW_FILTER=--config=bench/playwright.config.ts MH_PW_WORKERS=1 bash tests/run.sh browser playwright |
    grep -a 'BENCH\|passed\|failed' || true
cat build/bench/web.json
