#!/usr/bin/env bash
# The local service stack: PostgreSQL, memcached, an S3 server that enforces
# signatures (SeaweedFS) and an SMTP sink, all on loopback, all under one folder.
#
#   stack.sh up DIR PORT_BASE   start whatever is not running yet (reuses data in DIR)
#   stack.sh down DIR           stop exactly the processes recorded in DIR/*.pid
#   stack.sh env DIR            print the DATAMETA_* settings that point the app at DIR's stack
#
# Ports: PORT_BASE+0 PostgreSQL, +1 memcached, +2 SMTP, +10..+19 SeaweedFS (+10 is S3).
# S3_OPTIONS passes further options to `weed mini` (benchmarks/RESULTS.md, downloads: its
# defaults serve a single GET fastest; a reader memory budget slows one to ~20 MiB/s).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$here/.venv}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-datameta}
S3_SECRET_KEY=${S3_SECRET_KEY:-datameta-local-secret-key}
BUCKET=${BUCKET:-datameta}

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then echo "stack: $what did not come up within ${limit}s" >&2; return 1; fi
    sleep 0.1
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

ports() {
  PG_PORT=$((BASE + 0)); MC_PORT=$((BASE + 1)); SMTP_PORT=$((BASE + 2)); S3_PORT=$((BASE + 10))
}

start_postgres() {
  if [ ! -f pg/data/PG_VERSION ]; then
    mkdir -p pg
    [ "$(id -u)" = 0 ] && chown postgres: pg
    as_postgres "$PGBIN/initdb" -D pg/data -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      --no-sync >pg/initdb.log
  fi
  if ! as_postgres "$PGBIN/pg_ctl" -D pg/data status >/dev/null 2>&1; then
    as_postgres "$PGBIN/pg_ctl" -D pg/data -l pg/log -w -o "-p $PG_PORT -k $DIR/pg \
      -c listen_addresses=127.0.0.1 $PG_EXTRA" start >/dev/null
  fi
  if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'datameta'" | grep -q 1; then
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres datameta
  fi
}

start_memcached() {
  running memcached.pid && return
  local as_user=(); [ "$(id -u)" = 0 ] && as_user=(-u nobody)
  memcached "${as_user[@]}" -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 >memcached.log 2>&1 &
  echo $! >memcached.pid
  wait_for 10 memcached port_open "$MC_PORT"
}

s3_request() {  # s3_request METHOD KEY [CURL OPTIONS...]: a signed request to the bucket
  local method=$1 key=$2; shift 2
  curl -sf -o /dev/null -X "$method" --aws-sigv4 aws:amz:us-east-1:s3 \
    -u "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" \
    "http://127.0.0.1:$S3_PORT/$BUCKET$key"
}

s3_bucket_ready() { s3_request HEAD "" -I; }

# SeaweedFS allocates its first volume on the first write, which then takes about 0.2 s:
# a write now keeps that wait from the app's first upload (and shows the bucket writable).
s3_writable() { s3_request PUT /.stack-probe --data-binary probe && s3_request DELETE /.stack-probe; }

start_s3() {
  running weed.pid && return
  mkdir -p s3/data s3/logs
  # No anonymous identity: every request must carry a valid signature.
  cat >s3/identities.json <<EOF
{"identities": [{"name": "datameta",
  "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
  "$VENV/bin/weed" -logdir=s3/logs mini -dir=s3/data -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port=$((BASE + 11)) -master.port.grpc=$((BASE + 12)) \
    -volume.port=$((BASE + 13)) -volume.port.grpc=$((BASE + 14)) \
    -filer.port=$((BASE + 15)) -filer.port.grpc=$((BASE + 16)) -filer.localSocket="$DIR/s3/filer.sock" \
    -s3.port="$S3_PORT" -s3.port.grpc=$((BASE + 17)) -s3.localSocket="$DIR/s3/s3.sock" \
    -s3.port.iceberg=0 -s3.port.lance=0 -admin.ui=false -admin.port=$((BASE + 18)) \
    -admin.port.grpc=$((BASE + 19)) -webdav=false -master.telemetry=false \
    -s3.config=s3/identities.json -bucket="$BUCKET" ${S3_OPTIONS:-} >s3/weed.log 2>&1 &
  echo $! >weed.pid
  # The bucket is created asynchronously after the server reports healthy.
  wait_for 90 "S3 bucket $BUCKET" s3_bucket_ready
  wait_for 30 "S3 bucket $BUCKET to take a write" s3_writable
}

start_smtp() {
  running smtp.pid && return
  mkdir -p smtp
  "$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox \
    "$DIR/smtp/maildir" >smtp.log 2>&1 &
  echo $! >smtp.pid
  wait_for 10 "SMTP sink" port_open "$SMTP_PORT"
}

write_env() {
  cat >env.sh <<EOF
export DATAMETA_SQLALCHEMY_URL=postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/datameta
export DATAMETA_MEMCACHED_SERVERS=127.0.0.1:$MC_PORT
export DATAMETA_STORAGE_S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export DATAMETA_STORAGE_S3_BUCKET=$BUCKET
export DATAMETA_STORAGE_S3_ACCESS_KEY=$S3_ACCESS_KEY
export DATAMETA_STORAGE_S3_SECRET_KEY=$S3_SECRET_KEY
export DATAMETA_SMTP_HOST=127.0.0.1
export DATAMETA_SMTP_PORT=$SMTP_PORT
export DATAMETA_SMTP_TLS=none
export DATAMETA_STACK_DIR=$DIR
export DATAMETA_STACK_MAILDIR=$DIR/smtp/maildir
EOF
}

up() {
  DIR=$1; BASE=$2; ports
  mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd); chmod 755 "$DIR"; cd "$DIR"
  echo "$BASE" >port_base
  # A stack for tests trades durability for speed.
  PG_EXTRA=""
  [ "${STACK_FAST:-0}" = 1 ] && PG_EXTRA="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  start_postgres
  start_memcached
  start_s3
  start_smtp
  write_env
}

stop_pid() {  # stop_pid FILE: TERM, wait up to 10 s, then KILL
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

down() {
  DIR=$1
  [ -d "$DIR" ] || return 0
  cd "$DIR"
  for name in app worker smtp weed memcached; do stop_pid "$name.pid"; done
  if [ -f pg/data/postmaster.pid ]; then
    as_postgres "$PGBIN/pg_ctl" -D pg/data -m fast -w stop >/dev/null 2>&1 || true
  fi
  # SeaweedFS leaves its gRPC sockets behind when it had to be killed.
  if [ -f port_base ]; then
    BASE=$(cat port_base)
    for offset in 12 14 16 17 19; do rm -f /tmp/seaweedfs-*-grpc-$((BASE + offset)).sock; done
  fi
}

case "${1:-}" in
  up) up "${2:?DIR}" "${3:?PORT_BASE}" ;;
  down) down "${2:?DIR}" ;;
  env) cat "${2:?DIR}/env.sh" ;;
  *) echo "usage: $0 up DIR PORT_BASE | down DIR | env DIR" >&2; exit 2 ;;
esac
