#!/usr/bin/env bash
# Builds the libFuzzer targets (swiftc -sanitize=fuzzer,address) for the JSON decoder, the filter parser and the
# PATCH engine, then runs each for a bounded time on its seed corpus and prints the exec counts.
# Usage: scripts/fuzz.sh [seconds-per-target]   (default 60)
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_BUILD_DIR:-$root/.build/fuzz}
mkdir -p "$out"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6
       -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault)

# Compiler output is kept in a log; ld.gold's warnings about ASan symbols it cannot export are harmless.
build() {
    if ! swiftc "${flags[@]}" "$@" >"$out/build.log" 2>&1; then
        grep -v 'ld.gold: warning' "$out/build.log" >&2
        echo "fuzz build failed" >&2
        exit 2
    fi
}
# The modules are built as static libraries with coverage instrumentation, then linked into each target.
build -module-name JSON -emit-module -emit-module-path "$out/JSON.swiftmodule" \
    -emit-library -static -o "$out/libJSON.a" "$root"/Sources/JSON/*.swift
build -module-name SCIMCore -I "$out" -emit-module -emit-module-path "$out/SCIMCore.swiftmodule" \
    -emit-library -static -o "$out/libSCIMCore.a" "$root"/Sources/SCIMCore/*.swift

status=0
for target in json filter patch; do
    case $target in
        json) src=JSONFuzz.swift ;;
        filter) src=FilterFuzz.swift ;;
        patch) src=PatchFuzz.swift ;;
    esac
    build -I "$out" "$root/Tests/Fuzz/$src" "$out/libSCIMCore.a" "$out/libJSON.a" -o "$out/fuzz-$target"
    work="$out/corpus-$target"
    mkdir -p "$work" "$out/artifacts-$target"
    cp -n "$root/Tests/Fuzz/corpus/$target"/* "$work"/ 2>/dev/null || true
    log="$out/fuzz-$target.log"
    if "$out/fuzz-$target" "$work" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 \
        -artifact_prefix="$out/artifacts-$target/" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
    fi
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
    echo "fuzz-$target: $result, $runs executions in ${seconds}s (log: $log)"
    [[ $result == ok ]] || grep -E 'ERROR|Fatal|fatal error|SUMMARY' "$log" | head -5
done
exit $status
