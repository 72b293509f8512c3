#!/usr/bin/env bash
# A newcomer's first command: set up, run the end-to-end demo, then keep the whole system up.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/warnengine demo
exec .venv/bin/warnengine up
