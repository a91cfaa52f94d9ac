#!/usr/bin/env bash
# The whole test suite: install, build (warnings are errors), run every test, then the
# channel and capture suites again under AddressSanitizer + UBSan, the threaded parts under
# ThreadSanitizer, a clang build and a libFuzzer run. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
# The test build has the test-only peers (-Dtest_hooks=true); build/ stays the release
# build the main job uses, without them.
BUILD_DIR=build-test bash scripts/build.sh -Dtest_hooks=true ||
  { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

summary() { # testlog.json -> passed failed skipped; a missing log is one failure
  python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
except OSError:
    f = 1
print(p, f, s)
PY
}

rc=0
# A log left by an earlier run must never be counted as this run's.
rm -f build-test/meson-logs/testlog.json build-asan/meson-logs/testlog.json build-tsan/meson-logs/testlog.json
meson test -C build-test --print-errorlogs --num-processes 2 || rc=1
read -r p1 f1 s1 < <(summary build-test/meson-logs/testlog.json)

# The peer-facing code (channel, capturer, display sources, the browser session) and the
# parsers it relies on (common) again under ASan/UBSan: a hostile peer, display server or
# viewer must not find a memory bug.
BUILD_DIR=build-asan bash scripts/build.sh -Dtest_hooks=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dskip_tests=encode,convert
if [ $? -eq 0 ]; then
  meson test -C build-asan --print-errorlogs --num-processes 2 --suite common --suite channel --suite host --suite x11 --suite wlr --suite serve --suite portal || rc=1
  read -r p2 f2 s2 < <(summary build-asan/meson-logs/testlog.json)
else
  echo "sanitizer build: FAILED"; p2=0 f2=1 s2=0
fi
# The threaded parts under ThreadSanitizer: the capturer, the session's capture and encode
# threads (status line included), the converter's worker pool, the encoder wrappers.
# Races inside uninstrumented libraries (x265, libsrt) are suppressed in tests/tsan.supp,
# none in our code; network outputs are left out (libsrt's own threads).
BUILD_DIR=build-tsan bash scripts/build.sh -Dtest_hooks=true -Db_sanitize=thread -Db_lundef=false \
  -Dskip_tests=cli,wlr,x11,channel
if [ $? -eq 0 ]; then
  TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" \
    meson test -C build-tsan --print-errorlogs --num-processes 2 capture convert-threaded \
    convert_roundtrip session-fast-source-paced session-stall-skips-ticks \
    session-session-keyframe encode-h264-sdr-mkv encode-hevc-hdr-mkv encode-av1-sdr-mkv \
    encode-switch-mkv-segment encode-keyframe-hevc || rc=1
  read -r p4 f4 s4 < <(summary build-tsan/meson-logs/testlog.json)
else
  echo "thread sanitizer build: FAILED"; p4=0 f4=1 s4=0
fi
# clang must build the tree warning-free too; its libFuzzer targets then attack, with
# coverage feedback, every side of what a peer controls for 20 s each: the source's delivery
# validation (fuzz-attach), the host's capturer against a fake source (fuzz-capture), the
# source's decode of the host's input (fuzz-input) and a viewer's messages to serve
# (fuzz-serve-input), seeded from the checked-in corpora. A crash or an fd leak fails the run.
p3=0 f3=0
if command -v clang >/dev/null; then
  if CC=clang BUILD_DIR=build-clang bash scripts/build.sh -Dfuzz=true \
      -Db_sanitize=address,undefined -Db_lundef=false; then
    p3=$((p3 + 1)); echo "clang -Werror build: ok"
    for t in attach capture input serve-input; do
      corpus=$(mktemp -d)
      [ -d "fuzz/corpus/${t//-/_}" ] && cp "fuzz/corpus/${t//-/_}"/* "$corpus"/
      if build-clang/fuzz/fuzz-$t -max_total_time=20 -print_final_stats=1 "$corpus" \
          >build-clang/fuzz-$t.log 2>&1; then
        p3=$((p3 + 1)); echo "libFuzzer fuzz-$t 20 s: ok ($(grep -o 'number_of_executed_units: *[0-9]*' build-clang/fuzz-$t.log))"
      else
        f3=$((f3 + 1)); echo "libFuzzer fuzz-$t: FAILED"; tail -40 build-clang/fuzz-$t.log
      fi
      rm -rf "$corpus"
    done
  else
    f3=$((f3 + 1)); echo "clang -Werror build: FAILED"
  fi
fi
passed=$((p1 + p2 + p3 + p4)); failed=$((f1 + f2 + f3 + f4)); skipped=$((s1 + s2 + s4))
[ "$failed" -eq 0 ] || rc=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
