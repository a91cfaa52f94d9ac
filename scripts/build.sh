#!/usr/bin/env bash
# Installs the Debian packages (if missing) and builds framepush into build/ (or $BUILD_DIR).
# Extra arguments go to `meson setup` on the first configure.
set -eu
cd "$(dirname "$0")/.."
bash scripts/deps.sh
dir=${BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
  meson setup "$dir" -Dwerror=true "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
