#!/bin/sh
# Migrate the database, seed the first admin when asked to, then serve.
# Migrations run inside one transaction, so replicas starting together are safe;
# set DATAMETA_MIGRATE=false on all but one replica to skip the work.
set -eu

if [ "${DATAMETA_MIGRATE:-true}" = "true" ]; then
  alembic -c alembic.ini upgrade head
fi

if [ -n "${DATAMETA_INITIAL_EMAIL:-}" ]; then
  initialize_datameta_db -c production.ini \
    --initial-user-fullname "${DATAMETA_INITIAL_FULLNAME:-Site Admin}" \
    --initial-user-email "$DATAMETA_INITIAL_EMAIL" \
    --initial-user-pass "${DATAMETA_INITIAL_PASS:?DATAMETA_INITIAL_PASS is required with DATAMETA_INITIAL_EMAIL}" \
    --initial-group "${DATAMETA_INITIAL_GROUPNAME:-Admins}"
fi

exec "$@"
