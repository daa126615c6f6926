#!/usr/bin/env bash
# Brings up the local stack under ./var, migrates, seeds the first admin and
# serves the app in the background. Safe to run again: data in ./var is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
BIN=$here/.venv/bin
DIR=$here/var
PORT_BASE=16400
APP_URL=http://localhost:6543

scripts/stack.sh up "$DIR" "$PORT_BASE"
# shellcheck disable=SC1091
source "$DIR/env.sh"
"$BIN/alembic" -c alembic.ini upgrade head >"$DIR/migrate.log" 2>&1 \
  || { cat "$DIR/migrate.log" >&2; exit 1; }

# The first admin's credentials: from the environment, else made up once and kept.
if [ ! -f "$DIR/admin.env" ]; then
  email=${DATAMETA_ADMIN_EMAIL:-admin@example.org}
  password=${DATAMETA_ADMIN_PASSWORD:-Admin-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-1}
  printf 'ADMIN_EMAIL=%q\nADMIN_PASSWORD=%q\n' "$email" "$password" >"$DIR/admin.env"
  chmod 600 "$DIR/admin.env"
fi
# shellcheck disable=SC1091
source "$DIR/admin.env"
"$BIN/initialize_datameta_db" -c development.ini \
  --initial-user-fullname "Site Admin" --initial-user-email "$ADMIN_EMAIL" \
  --initial-user-pass "$ADMIN_PASSWORD" --initial-group "Admins"

# Each server thread would otherwise keep its own glibc allocation arena at the
# high-water mark of the largest export it served (see benchmarks/RESULTS.md).
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
if ! { [ -f "$DIR/app.pid" ] && kill -0 "$(cat "$DIR/app.pid")" 2>/dev/null; }; then
  "$BIN/pserve" development.ini >"$DIR/app.log" 2>&1 &
  echo $! >"$DIR/app.pid"
fi
# The background worker: verifies files uploaded in parts, keeps house.
if ! { [ -f "$DIR/worker.pid" ] && kill -0 "$(cat "$DIR/worker.pid")" 2>/dev/null; }; then
  "$BIN/datameta-worker" -c development.ini >"$DIR/worker.log" 2>&1 &
  echo $! >"$DIR/worker.pid"
fi
end=$((SECONDS + 60))
until curl -sf -o /dev/null "$APP_URL/api/v1/server"; do
  if [ $SECONDS -ge $end ] || ! kill -0 "$(cat "$DIR/app.pid")" 2>/dev/null; then
    echo "The app did not start; its log:" >&2; tail -n 40 "$DIR/app.log" >&2; exit 1
  fi
  sleep 0.2
done

cat <<MSG

DataMeta is running at $APP_URL
  log in as  $ADMIN_EMAIL
  password   $ADMIN_PASSWORD
  API        $APP_URL/api/v1/server   health: $APP_URL/api/v1/health
  mail sink  $DIR/smtp/maildir/new (every mail the app sends lands here)
  logs       $DIR/app.log, $DIR/worker.log
Stop everything with: make stop
MSG
