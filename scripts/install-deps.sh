#!/usr/bin/env bash
# Installs what triage and its tests need on Debian 12: the tools it drives and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(elfutils gdb libc6-dbg zstd lz4 xz-utils bubblewrap binutils openssl gcc g++ make redis-server postgresql chromium pkg-config libglib2.0-dev libkrb5-dev libssl-dev libgoogle-glog-dev libabsl-dev libboost-dev qtbase5-dev python3 python3.11 python3.11-dbg rustc golang-go zsh dwz curl)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The catalog: PostgreSQL (with pg_trgm, part of the server package) running, reachable over TCP as
# postgres/postgres, with the databases `triage` (the service's default DATABASE_URL) and `test` (the tests').
bash scripts/start-postgres.sh
# The lock file is the truth: npm ci fails (and so does this script) when it is out of step with package.json.
npm ci --no-audit --no-fund
