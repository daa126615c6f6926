#!/usr/bin/env bash
# Runs lint and the whole test suite against a private stack in a temporary
# folder, and tears that stack down whatever the outcome.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
BIN=$here/.venv/bin

scripts/lint.sh

DIR=$(mktemp -d /tmp/datameta-test.XXXXXX)
cleanup() { scripts/stack.sh down "$DIR" || true; rm -rf "$DIR"; }
trap cleanup EXIT
STACK_FAST=1 scripts/stack.sh up "$DIR" "${TEST_PORT_BASE:-17400}"
# shellcheck disable=SC1091
source "$DIR/env.sh"
"$BIN/pytest" "$@"
