#!/usr/bin/env bash
# Fuzzes one parser with libFuzzer: builds csd-fuzz with coverage instrumentation into .build-fuzz,
# then runs it on Fuzz/corpus/TARGET (the committed seeds) and .build-fuzz/corpus/TARGET (what it
# finds). Targets: safetensors, config, tokenizer, transforms, png, video.
#   scripts/fuzz.sh safetensors -runs=1000000
#   scripts/fuzz.sh png -max_total_time=600 -rss_limit_mb=2048
# A crash is written as crash-* in the current folder; replay it with
#   .build/release/csd-fuzz TARGET crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [libFuzzer options…]}
shift
swift build -c release --sanitize fuzzer -Xswiftc -DFUZZING --product csd-fuzz --scratch-path .build-fuzz >&2
mkdir -p ".build-fuzz/corpus/$target"
# Swift's own backtracer would catch a crash before libFuzzer can save the input that caused it.
CSD_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no exec .build-fuzz/release/csd-fuzz ".build-fuzz/corpus/$target" "Fuzz/corpus/$target" "$@"
