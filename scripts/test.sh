#!/usr/bin/env bash
# Set up and run the whole test suite against real servers (Tansu, Mosquitto, SQLite, PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)  # promtool checks metrics and alert rules
[ -x /usr/bin/chromium ] || need+=(chromium)  # console browser tests (tests/api), headless
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v cc >/dev/null 2>&1 || need+=(gcc)  # gmalglib (SM2 signing, C) builds from source
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "please install: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
./scripts/setup.sh
.venv/bin/ruff check warnengine channels tests benchmarks
.venv/bin/ruff format --check --quiet warnengine channels tests benchmarks
.venv/bin/mypy --strict warnengine channels tests benchmarks
.venv/bin/python -m pytest "$@"
