#!/usr/bin/env bash
# Copies the front-end libraries the pages load from node_modules (pinned by
# package-lock.json) into static/vendor. Used by install.sh and the container build.
#   vendor.sh NODE_MODULES_DIR VENDOR_DIR
set -euo pipefail
modules=$1 vendor=$2
mkdir -p "$vendor"
cp "$modules/bootstrap/dist/css/bootstrap.min.css" \
   "$modules/bootstrap/dist/js/bootstrap.bundle.min.js" \
   "$modules/swagger-ui-dist/swagger-ui-bundle.js" \
   "$modules/swagger-ui-dist/swagger-ui.css" \
   "$modules/spark-md5/spark-md5.min.js" "$vendor/"
