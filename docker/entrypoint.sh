#!/bin/sh
# Every container of the image starts here: migrate the database, seed the first
# site admin when DATAMETA_INITIAL_EMAIL is set (and create the S3 bucket with
# DATAMETA_CREATE_BUCKET=true), then run the command (the web server, or
# datameta-worker). Both steps are idempotent and take PostgreSQL
# advisory locks, so replicas that start at once wait for each other.
set -eu
ini=${DATAMETA_INI:-production.ini}

# Metrics of the server's worker processes are added up in this folder, which
# must start empty (see README, "Metrics").
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

if [ "${DATAMETA_MIGRATE:-true}" = "true" ]; then
  alembic -c alembic.ini -x "ini=$ini" upgrade head
fi

if [ -n "${DATAMETA_INITIAL_EMAIL:-}" ]; then
  initialize_datameta_db -c "$ini" \
    --initial-user-fullname "${DATAMETA_INITIAL_FULLNAME:-Site Admin}" \
    --initial-user-email "$DATAMETA_INITIAL_EMAIL" \
    --initial-user-pass "${DATAMETA_INITIAL_PASS:?DATAMETA_INITIAL_PASS is required with DATAMETA_INITIAL_EMAIL}" \
    --initial-group "${DATAMETA_INITIAL_GROUPNAME:-Admins}" \
    $([ "${DATAMETA_CREATE_BUCKET:-false}" = "true" ] && echo --create-bucket)
fi

exec "$@"
