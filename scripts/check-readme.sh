#!/usr/bin/env bash
# Runs the README's first command exactly as written (the second, the test suite, is what .ci/run
# runs) and checks what it wrote; then builds the library example in Samples/EditVideo against
# this package and runs its edit on the tiny test fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
command=$(awk '/^```sh$/ { block++ } block == 1 && /^# 1\./ { getline; print; exit }' README.md)
[ -n "$command" ] || { echo "check-readme: no command 1 in README.md" >&2; exit 1; }
echo "README command 1: $command"
rm -f out/blue-ball.mp4 out/blue-ball-sheet.png
bash -c "$command"
test -s out/blue-ball.mp4 && test -s out/blue-ball-sheet.png
report=$(.build/release/csd metrics Samples/red-ball-on-grass.mp4 out/blue-ball.mp4 --ground-truth Samples/red-ball-on-grass.json \
  --target "a blue ball on grass" --json)
echo "csd metrics: $report"
success=$(grep -oE '"edit_success_color":[0-9.]+' <<<"$report" | cut -d: -f2)
awk -v s="$success" 'BEGIN { if (s == "" || s < 0.9) { print "check-readme: edit success " s " is under 0.9"; exit 1 } }'

echo "Samples/EditVideo: build against the library and edit on the tiny fixture"
swift build --package-path Samples/EditVideo --scratch-path .build-samples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.build-samples/debug/EditVideo Samples/red-ball-on-grass.mp4 "$work/blue.mp4" Tests/CoreTests/Fixtures/tiny-sd 2 | tee "$work/log"
grep -q "^wrote $work/blue.mp4" "$work/log" && test -s "$work/blue.mp4"
.build/release/csd metrics Samples/red-ball-on-grass.mp4 "$work/blue.mp4" --json | grep -qE '"frames":24[,}]'
echo "check-readme: ok"
