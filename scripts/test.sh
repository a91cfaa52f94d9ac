#!/usr/bin/env bash
# The whole test suite: install, build (warnings are errors), run every test, then the
# channel and capture suites again under AddressSanitizer + UBSan. Ends with
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
bash scripts/build.sh || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

summary() { # testlog.json -> passed failed
  python3 - "$1" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL", "SKIP"):
        p += 1
    else:
        f += 1
print(p, f)
PY
}

rc=0
meson test -C build --print-errorlogs --num-processes 2 || rc=1
read -r p1 f1 < <(summary build/meson-logs/testlog.json)

# The peer-facing code (channel, capturer, display sources) again under ASan/UBSan: a
# hostile peer or display server must not find a memory bug.
BUILD_DIR=build-asan bash scripts/build.sh -Db_sanitize=address,undefined -Db_lundef=false \
  -Dskip_tests=encode,convert || { echo "sanitizer build failed"; rc=1; }
p2=0 f2=0
if [ -f build-asan/build.ninja ]; then
  meson test -C build-asan --print-errorlogs --num-processes 2 --suite channel --suite host --suite x11 --suite wlr || rc=1
  read -r p2 f2 < <(summary build-asan/meson-logs/testlog.json)
fi
passed=$((p1 + p2)); failed=$((f1 + f2))
[ "$failed" -eq 0 ] || rc=1
echo "$passed passed, $failed failed"
exit $rc
