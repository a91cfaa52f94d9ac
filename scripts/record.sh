#!/usr/bin/env bash
# The main job with defaults: install, build, then record 3 s of the test source at
# 1920x1080@60, encoded H.264 in Matroska, to out/framepush.mkv and print the summary.
# Arguments replace the defaults of `framepush record` (e.g. --source test:hdr=1 -o x.mp4).
# The defaults replace the previous run's file (-y): rerunning the main job must not stop
# at framepush's overwrite question.
set -eu
cd "$(dirname "$0")/.."
bash scripts/build.sh
mkdir -p out
if [ $# -eq 0 ]; then
  set -- --source test:pattern=moving --size 1920x1080 --fps 60 --duration 3 \
    --codec h264 -y -o out/framepush.mkv --stats-json out/framepush-stats.json
fi
exec ./build/tools/framepush record "$@"
