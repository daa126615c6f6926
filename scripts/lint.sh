#!/usr/bin/env bash
# Every static check: Python style (ruff), the import layers (import-linter),
# types (mypy) and the page scripts (eslint). Stops at the first that fails.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
BIN=$here/.venv/bin

"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/lint-imports" --no-cache
"$BIN/mypy"
node_modules/.bin/eslint --max-warnings 0 static/js eslint.config.js
