#!/usr/bin/env bash
# Builds the libFuzzer targets (swiftc -sanitize=fuzzer,address) for the JSON decoder, the filter parser, the
# PATCH engine, the HTTP/1.1 parsers, the bearer-token parser and the OAuth token request checks, then runs each for a bounded time on its seed
# corpus and prints the exec counts.
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]   (default 60 seconds; targets: json filter patch http token oauth)
set -euo pipefail
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(json filter patch http token oauth)
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_BUILD_DIR:-$root/.build/fuzz}
mkdir -p "$out"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6
       -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault)

# build OUTPUT SWIFTC-ARGS...: skipped when the flags and every input file are unchanged since the last build
# (CI runs this on every `make test`). Compiler output is kept in a log; ld.gold's warnings about ASan symbols it
# cannot export are harmless.
build() {
    local output=$1 sum
    shift
    sum=$({ printf '%s\n' "${flags[@]}" "$@"; for a in "$@"; do if [[ -f $a ]]; then cat "$a"; fi; done; } | sha256sum | cut -d' ' -f1)
    if [[ -f $output && -f $output.stamp && $(cat "$output.stamp") == "$sum" ]]; then return; fi
    # A static archive is added to, not replaced: start from nothing, or objects of moved files linger in it.
    rm -f "$output"
    if ! swiftc "${flags[@]}" "$@" >"$out/build.log" 2>&1; then
        grep -v 'ld.gold: warning' "$out/build.log" >&2
        echo "fuzz build failed" >&2
        exit 2
    fi
    echo "$sum" >"$output.stamp"
}
# The modules are built as static libraries with coverage instrumentation, then linked into each target; only
# those the chosen targets need.
wants() { local t; for t in "${targets[@]}"; do [[ " $* " == *" $t "* ]] && return 0; done; return 1; }
if wants json filter patch http oauth; then
    build "$out/libHTTPCore.a" -module-name HTTPCore -emit-module -emit-module-path "$out/HTTPCore.swiftmodule" \
        -emit-library -static -o "$out/libHTTPCore.a" $(find "$root/Sources/HTTPCore" -name "*.swift" | sort)
fi
if wants json filter patch oauth; then
    build "$out/libCivilTime.a" -module-name CivilTime -emit-module -emit-module-path "$out/CivilTime.swiftmodule" \
        -emit-library -static -o "$out/libCivilTime.a" $(find "$root/Sources/CivilTime" -name "*.swift" | sort)
    build "$out/libJSON.a" -module-name JSON -emit-module -emit-module-path "$out/JSON.swiftmodule" \
        -emit-library -static -o "$out/libJSON.a" $(find "$root/Sources/JSON" -name "*.swift" | sort)
    # SCIMCore renders its errors through HTTPCore's error protocol.
    build "$out/libSCIMCore.a" -module-name SCIMCore -I "$out" -emit-module -emit-module-path "$out/SCIMCore.swiftmodule" \
        -emit-library -static -o "$out/libSCIMCore.a" $(find "$root/Sources/SCIMCore" -name "*.swift" | sort)
fi
if wants token oauth; then
    # Crypto (CRC-32, Base62, HMAC over OpenSSL) for the token parser, which is compiled into its target as is.
    build "$out/libCrypto.a" -module-name Crypto -I "$root/Sources/COpenSSL" -emit-module \
        -emit-module-path "$out/Crypto.swiftmodule" -emit-library -static -o "$out/libCrypto.a" $(find "$root/Sources/Crypto" -name "*.swift" | sort)
fi

status=0
total=0
for target in "${targets[@]}"; do
    case $target in
        json) inputs=("$root/Tests/Fuzz/JSONFuzz.swift" "$out/libSCIMCore.a" "$out/libJSON.a" "$out/libHTTPCore.a" "$out/libCivilTime.a") ;;
        filter) inputs=("$root/Tests/Fuzz/FilterFuzz.swift" "$out/libSCIMCore.a" "$out/libJSON.a" "$out/libHTTPCore.a" "$out/libCivilTime.a") ;;
        patch) inputs=("$root/Tests/Fuzz/PatchFuzz.swift" "$out/libSCIMCore.a" "$out/libJSON.a" "$out/libHTTPCore.a" "$out/libCivilTime.a") ;;
        http) inputs=("$root/Tests/Fuzz/HTTPParserFuzz.swift" "$out/libHTTPCore.a") ;;
        token) inputs=("$root/Tests/Fuzz/TokenFuzz.swift" "$root/Sources/GatewayApp/Tokens/TokenCredential.swift"
                       -I "$root/Sources/COpenSSL" "$out/libCrypto.a" -lssl -lcrypto) ;;
        oauth) inputs=("$root/Tests/Fuzz/OAuthFuzz.swift" "$root/Sources/GatewayApp/OAuth/TokenRequest.swift"
                       "$root/Sources/GatewayApp/OAuth/OAuthError.swift" "$root/Sources/GatewayApp/OAuth/OAuthClientCredential.swift"
                       -I "$out" -I "$root/Sources/COpenSSL" "$out/libHTTPCore.a" "$out/libJSON.a" "$out/libCrypto.a" -lssl -lcrypto) ;;
        *) echo "unknown fuzz target $target" >&2; exit 2 ;;
    esac
    build "$out/fuzz-$target" -I "$out" "${inputs[@]}" -o "$out/fuzz-$target"
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
    total=$((total + runs))
    echo "fuzz-$target: $result, $runs executions in ${seconds}s (log: $log)"
    [[ $result == ok ]] || grep -E 'ERROR|Fatal|fatal error|SUMMARY' "$log" | head -5
done
echo "fuzz: ${#targets[@]} targets, $total executions, $([[ $status -eq 0 ]] && echo "no crash" || echo "CRASHES (inputs in $out/artifacts-*)")"
exit $status
