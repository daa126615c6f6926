#!/usr/bin/env bash
# Installs what DataMeta needs on Debian 12, skipping whatever is already there.
#   install.sh          system packages, the project venv, the app and its test tools
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$here/.venv}

apt_packages=(postgresql memcached curl chromium chromium-driver)
missing=()
# Node.js may come from elsewhere than Debian; only a machine without npm gets Debian's.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "install: apt packages ${missing[*]}"
  $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# Reinstall only when the dependency list changed since the last install.
stamp="$VENV/.datameta-installed"
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
  echo "install: python packages into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -e "$here[test]"
  touch "$stamp"
fi

# Front-end libraries come from npm, pinned by package-lock.json, into static/vendor.
if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "install: npm packages"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
vendor="$here/static/vendor"
if [ ! -f "$vendor/.installed" ] || [ "$here/package-lock.json" -nt "$vendor/.installed" ]; then
  "$here/scripts/vendor.sh" "$here/node_modules" "$vendor"
  touch "$vendor/.installed"
fi
