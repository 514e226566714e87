#!/bin/bash
# Runs every libFuzzer harness of tests/fuzz for SECONDS each (default 60),
# one after the other on one core, from seeds made of the tests' data and
# the corpus earlier runs kept (build-fuzz/fuzz-corpus/NAME). Sets up
# build-fuzz (CC=clang, -Dfuzzing=true) if needed. Exits non-zero on any
# finding, after printing where its input is (build-fuzz/fuzz-artifacts/).
#
#   usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
set -uo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [HARNESS...]" >&2
    exit 2
fi
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(element sync hook keyfile qmp kvmi_tool kvmi_emulator)

if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true || exit 1
fi
ninja -C build-fuzz || exit 1

failed=0
summary=()
for name in "${harnesses[@]}"; do
    exe=build-fuzz/tests/fuzz/fuzz_$name
    if [ ! -x "$exe" ]; then
        echo "fuzz.sh: no harness $name" >&2
        exit 2
    fi
    mkdir -p "build-fuzz/fuzz-corpus/$name" "build-fuzz/fuzz-artifacts/$name"
    log=$(mktemp)
    python3 tests/fuzz/run_fuzzer.py --seconds "$seconds" \
        --corpus "build-fuzz/fuzz-corpus/$name" \
        --artifacts "build-fuzz/fuzz-artifacts/$name" "$name" "$exe" 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
    summary+=("$(grep -E '^fuzz [a-z_]+: ' "$log")")
    rm -f "$log"
done
echo "=== fuzz.sh: $seconds s per harness"
printf '%s\n' "${summary[@]}"
exit $failed
