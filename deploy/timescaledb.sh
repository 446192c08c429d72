#!/usr/bin/env bash
# Install the TimescaleDB extension (Apache-licensed edition) into PostgreSQL 15 on Debian 12, as root.
#
# Debian 12 has no timescaledb package; Debian 13's source package builds against Debian 12's
# postgresql-server-dev-15. The newer release is named only in a private sources list with its own
# apt state and cache, so the machine's own sources and package lists stay untouched. The mirror is
# the one this machine's apt configuration already uses. Idempotent: when the extension is
# installed this only checks and exits.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
CONTROL=/usr/share/postgresql/$PG_MAJOR/extension/timescaledb.control
NEWER_SUITE=${TIMESCALEDB_SOURCE_SUITE:-trixie}
STATE=${TIMESCALEDB_BUILD_DIR:-/var/cache/geoscada/timescaledb}

if [ -f "$CONTROL" ]; then
  echo "timescaledb: installed ($(sed -n "s/^default_version = '\(.*\)'/\1/p" "$CONTROL"))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "timescaledb: not installed and this is not root; run deploy/timescaledb.sh as root" >&2
  exit 1
fi

# The Debian mirror this machine already uses: the URI of its first non-security Debian entry,
# from one-line .list files or deb822 .sources files.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 ~ /^deb(-src)?$/ {
           for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break
           uri = $i; suite = $(i + 1)
           if (suite !~ /security/ && uri ~ /debian\/?$/) { print uri; exit }
         }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         {
           uris = ""; suites = ""
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
             if ($i ~ /^Suites:/) { suites = $i }
           }
           split(uris, u, /[ \t]+/)
           if (suites !~ /security/ && u[1] ~ /debian\/?$/) { print u[1]; exit }
         }' "$f"
  done
}
MIRROR=$(debian_mirror | head -n 1)
if [ -z "$MIRROR" ]; then
  echo "timescaledb: no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
BUILD_DEPS=(dpkg-dev cmake gcc make "postgresql-server-dev-$PG_MAJOR" libssl-dev libkrb5-dev)
missing=()
for pkg in "${BUILD_DEPS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "timescaledb: installing build dependencies: ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial" "$STATE/src"
cat >"$STATE/sources.list" <<EOF
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $NEWER_SUITE main
EOF
APT_PRIVATE=(-o "Dir::Etc::sourcelist=$STATE/sources.list" -o "Dir::Etc::sourceparts=-"
             -o "Dir::State::Lists=$STATE/lists" -o "Dir::Cache=$STATE/cache"
             -o "APT::Sandbox::User=root")

echo "timescaledb: fetching the $NEWER_SUITE source package"
apt-get "${APT_PRIVATE[@]}" update -q
rm -rf "$STATE/src"/timescaledb-*
(cd "$STATE/src" && apt-get "${APT_PRIVATE[@]}" source -q timescaledb)
SRC=$(find "$STATE/src" -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)
if [ -z "$SRC" ]; then
  echo "timescaledb: apt-get source unpacked nothing into $STATE/src" >&2
  exit 1
fi

echo "timescaledb: building $(basename "$SRC") against PostgreSQL $PG_MAJOR"
cd "$SRC"
rm -rf build
./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
  -DPG_CONFIG="$PG_CONFIG" >"$STATE/bootstrap.log" 2>&1 \
  || { tail -n 30 "$STATE/bootstrap.log" >&2; exit 1; }
make -C build -j"$(nproc)" install >"$STATE/build.log" 2>&1 \
  || { tail -n 30 "$STATE/build.log" >&2; exit 1; }

if [ ! -f "$CONTROL" ]; then
  echo "timescaledb: build finished but $CONTROL is missing; see $STATE/build.log" >&2
  exit 1
fi
echo "timescaledb: installed ($(sed -n "s/^default_version = '\(.*\)'/\1/p" "$CONTROL"))"
