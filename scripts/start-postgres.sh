#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster when it is not running, and makes sure the catalog can log in
# over TCP (postgres/postgres on 127.0.0.1:5432) and that the databases `triage` and `test` exist.
# Idempotent: on a machine already set up (trust auth, databases present) it changes nothing.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sudo -u postgres sh -c "$*"; fi; }

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

# A fresh Debian cluster asks TCP clients for a password and the postgres role has none: give it one.
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  as_postgres "psql -Atqc \"alter role postgres password 'postgres'\""
fi
for db in triage test; do
  if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
    PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qc "create database $db"
  fi
done
