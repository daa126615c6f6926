#!/usr/bin/env bash
# The deployment test (make deploy-test): builds the image, starts the compose
# stack of docker/, runs the scripting user's end-to-end path against it, uploads
# a file in parts with the command line for the worker to verify, scales
# the app to two replicas, shows that a session made on one works on the other
# and that of two replicas racing to submit the same site-unique value exactly
# one wins, then removes everything it started.
#
# Where no registry is reachable (as on the machines this is tested on) the
# base image debian:bookworm-slim is made with debootstrap, and the service
# images are the stand-ins of docker/local-images/ (docker/compose.local-images.yaml).
# Installs docker.io, docker-compose and debootstrap from Debian when missing, and
# starts dockerd when it is not running (and stops it again afterwards).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

DOCKER=/usr/bin/docker              # Debian's CLI, with BuildKit built in
COMPOSE=/usr/bin/docker-compose
PROJECT=datameta-deploytest
TAG=deploytest
PROXY_PORT=${DEPLOY_TEST_PROXY_PORT:-28080}
S3_PORT=${DEPLOY_TEST_S3_PORT:-28333}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/datameta-docker
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
work=$(mktemp -d)
started_dockerd=""

step() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }
compose() { "$COMPOSE" -p "$PROJECT" -f docker/compose.yaml -f docker/compose.local-images.yaml \
  --env-file "$work/stack.env" "$@"; }

cleanup() {
  local status=$?
  step "tearing down"
  if [ -f "$work/stack.env" ]; then
    [ $status -ne 0 ] && compose logs --no-color --tail 60 >&2 || true
    compose down --volumes --remove-orphans --timeout 10 || true
  fi
  if [ -z "${KEEP_IMAGES:-}" ] && "$DOCKER" info >/dev/null 2>&1; then
    "$DOCKER" image rm -f "datameta:$TAG" datameta-local/postgres datameta-local/memcached \
      datameta-local/nginx datameta-local/seaweedfs >/dev/null 2>&1 || true
    "$DOCKER" builder prune -af >/dev/null 2>&1 || true
  fi
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
    pkill -f "containerd --config /var/run/docker/containerd" 2>/dev/null || true
  fi
  rm -rf "$work"
  if [ $status -eq 0 ]; then echo "deploy-test: passed in ${SECONDS}s"; else echo "deploy-test: FAILED" >&2; fi
  exit $status
}
trap cleanup EXIT

step "tools"
missing=()
[ -x "$DOCKER" ] || missing+=(docker.io)
[ -x "$COMPOSE" ] || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
  dockerd >"$work/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 100); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 0.2; done
  "$DOCKER" info >/dev/null
fi

step "base image debian:bookworm-slim"
if ! "$DOCKER" image inspect debian:bookworm-slim >/dev/null 2>&1; then
  if ! "$DOCKER" pull debian:bookworm-slim >/dev/null 2>&1; then
    mkdir -p "$CACHE"
    if [ ! -s "$CACHE/bookworm-minbase.tar" ]; then
      mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
      debootstrap --variant=minbase bookworm "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" >/dev/null
      tar -C "$work/rootfs" -cf "$CACHE/bookworm-minbase.tar" .
      rm -rf "$work/rootfs"
    fi
    "$DOCKER" import - debian:bookworm-slim <"$CACHE/bookworm-minbase.tar" >/dev/null
  fi
fi

step "building the images"
build() {  # build TAG DOCKERFILE CONTEXT
  DOCKER_BUILDKIT=1 "$DOCKER" build --quiet --network host \
    --secret "id=ca_bundle,src=$CA_BUNDLE" -t "$1" -f "$2" "$3" >/dev/null
  echo "built $1"
}
build "datameta:$TAG" docker/Dockerfile .
for service in postgres memcached nginx seaweedfs; do
  build "datameta-local/$service" "docker/local-images/$service/Dockerfile" "docker/local-images/$service"
done

step "starting the stack"
s3_key=deploy-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
s3_secret=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
admin_pass="Deploy-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-1"
cat >"$work/s3.json" <<EOF
{"identities": [{"name": "datameta",
  "credentials": [{"accessKey": "$s3_key", "secretKey": "$s3_secret"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
chmod 644 "$work/s3.json"
cat >"$work/stack.env" <<EOF
DATAMETA_IMAGE_TAG=$TAG
DATAMETA_PUBLIC_URL=http://127.0.0.1:$PROXY_PORT
DATAMETA_SESSION_SECRET=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
POSTGRES_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
S3_PUBLIC_URL=http://127.0.0.1:$S3_PORT
S3_ACCESS_KEY=$s3_key
S3_SECRET_KEY=$s3_secret
S3_CONFIG=$work/s3.json
PROXY_BIND=127.0.0.1
PROXY_PORT=$PROXY_PORT
S3_BIND=127.0.0.1
S3_PORT=$S3_PORT
DATAMETA_INITIAL_EMAIL=admin@example.org
DATAMETA_INITIAL_PASS=$admin_pass
DATAMETA_CREATE_BUCKET=true
EOF
compose up -d --no-build

healthy() {  # healthy CONTAINER: the image's health check passes
  [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ]
}
wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    if [ $SECONDS -ge $end ]; then echo "deploy-test: $what within ${limit}s: no" >&2; return 1; fi
    sleep 1
  done
  echo "$what (${SECONDS}s)"
}
proxy_healthy() { curl -sf -o /dev/null "http://127.0.0.1:$PROXY_PORT/api/v1/health"; }
wait_until 240 "the app answers healthy through the proxy" proxy_healthy
curl -s "http://127.0.0.1:$PROXY_PORT/api/v1/health"; echo

step "the scripting user's end-to-end path, through the proxy"
"$here/.venv/bin/python" scripts/e2e_api.py --url "http://127.0.0.1:$PROXY_PORT" \
  --email admin@example.org --password "$admin_pass"

step "a file uploaded in parts with the command line, verified by the worker"
token=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d "{\"email\": \"admin@example.org\", \"password\": \"$admin_pass\", \"label\": \"cli\"}" \
  "http://127.0.0.1:$PROXY_PORT/api/v1/keys" | "$here/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
head -c $((40 * 1024 * 1024)) /dev/urandom >"$work/reads.fastq.gz"
uploaded=$(cd "$work" && DATAMETA_URL="http://127.0.0.1:$PROXY_PORT" DATAMETA_TOKEN=$token \
  "$here/.venv/bin/datameta" upload --quiet --state "$work/uploads.json" reads.fastq.gz)
echo "$uploaded"
file_id=$(echo "$uploaded" | awk '{print $2}')
verification() {
  curl -sf -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$PROXY_PORT/api/v1/files/$file_id/verification"
}
verified() { verification | grep -q '"state": *"verified"'; }
wait_until 180 "the worker verified $file_id" verified
sha256=$(sha256sum "$work/reads.fastq.gz" | cut -d' ' -f1)
verification | grep -q "\"$sha256\"" || { echo "deploy-test: SHA-256 differs: $(verification)" >&2; exit 1; }
echo "SHA-256 $sha256 as computed here"

step "scaling the app to 2 replicas"
compose up -d --no-build --no-recreate --scale app=2
mapfile -t replicas < <(compose ps -q app)
[ ${#replicas[@]} -eq 2 ] || { echo "deploy-test: expected 2 app replicas, got ${#replicas[@]}" >&2; exit 1; }
both_healthy() { healthy "${replicas[0]}" && healthy "${replicas[1]}"; }
wait_until 180 "both replicas are healthy" both_healthy

probe() {  # probe CONTAINER COMMAND ARGS...: scripts/deploy_probe.py inside a replica
  local container=$1; shift
  "$DOCKER" exec -i "$container" python3 - "$@" <scripts/deploy_probe.py
}

step "a session made on one replica works on the other"
cookie=$(probe "${replicas[0]}" login admin@example.org "$admin_pass")
echo "logged in on replica 1: $(probe "${replicas[0]}" whoami "$cookie")"
echo "the same cookie on replica 2: $(probe "${replicas[1]}" whoami "$cookie")"

step "two replicas race to submit the same site-unique value"
read -r key first second < <(probe "${replicas[0]}" stage-twins admin@example.org "$admin_pass")
probe "${replicas[0]}" submit "$key" "$first" >"$work/race1" &
probe "${replicas[1]}" submit "$key" "$second" >"$work/race2" &
wait
outcome="$(cat "$work/race1") $(cat "$work/race2")"
echo "answers of replica 1 and replica 2: $outcome"
case "$outcome" in
  "200 400" | "400 200") echo "exactly one submission won" ;;
  *) echo "deploy-test: expected one 200 and one 400" >&2; exit 1 ;;
esac
