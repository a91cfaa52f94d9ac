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
# clang must build the tree warning-free too; its libFuzzer target then attacks the
# delivery validation for 20 s with coverage feedback (a crash or fd leak fails it).
p3=0 f3=0
if command -v clang >/dev/null; then
  if CC=clang BUILD_DIR=build-clang bash scripts/build.sh -Dfuzz=true -Dtests=false \
      -Db_sanitize=address,undefined -Db_lundef=false; then
    p3=$((p3 + 1)); echo "clang -Werror build: ok"
    corpus=$(mktemp -d)
    if build-clang/fuzz/fuzz-attach -max_total_time=20 -print_final_stats=1 "$corpus" \
        >build-clang/fuzz.log 2>&1; then
      p3=$((p3 + 1)); echo "libFuzzer fuzz-attach 20 s: ok ($(grep -o 'number_of_executed_units: *[0-9]*' build-clang/fuzz.log))"
    else
      f3=$((f3 + 1)); echo "libFuzzer fuzz-attach: FAILED"; tail -40 build-clang/fuzz.log
    fi
    rm -rf "$corpus"
  else
    f3=$((f3 + 1)); echo "clang -Werror build: FAILED"
  fi
fi
passed=$((p1 + p2 + p3)); failed=$((f1 + f2 + f3))
[ "$failed" -eq 0 ] || rc=1
echo "$passed passed, $failed failed"
exit $rc
