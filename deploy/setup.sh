#!/usr/bin/env bash
# Install everything GeoSCADA needs on Debian 12, as root: Debian packages, the Python virtual
# environment with the project and its tools. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(python3 python3-venv python3-dev gcc make mosquitto mosquitto-clients mbpoll
                 postgresql-15 postgresql-server-dev-15 poppler-utils
                 # the web UI's browser tests drive Debian's Chromium through Playwright
                 chromium)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's postgresql package starts a cluster on 5432; the project never uses it and runs its
# own private clusters, so nothing here depends on what else runs on the machine.

# Playwright drives /usr/bin/chromium from Debian; it must never fetch a browser of its own
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
# Every dependency at the exact version of requirements.lock, the versions the tests ran on.
if ! .venv/bin/python -c "import geoscada, plant" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ] || [ requirements.lock -nt .venv/.installed ]; then
  echo "setup: installing the project into .venv from requirements.lock"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q --constraint requirements.lock -e '.[dev]'
  touch .venv/.installed
fi

if [ -x deploy/timescaledb.sh ]; then
  deploy/timescaledb.sh
fi
echo "setup: ready"
