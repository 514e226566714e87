#!/bin/bash
# The whole test suite, as CI runs it (.ci/run): installs what it needs,
# builds, then runs every test three times: plainly, with every program
# under valgrind's memcheck, and built with AddressSanitizer+UBSan; the
# sanitizer phase also runs each libFuzzer harness briefly (build-fuzz,
# clang; scripts/fuzz.sh runs them longer).
set -uo pipefail

cd "$(dirname "$0")/.."
scripts/setup-host.sh || exit 1

if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Dsanitizers=true || exit 1
fi
ninja -C build-asan || exit 1
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true || exit 1
fi
ninja -C build-fuzz || exit 1

echo "=== setup and builds: $SECONDS s"
runs_failed=0
tests_passed=0
tests_failed=0
# meson's summary of one run: "Ok: N", "Fail: N", "Timeout: N"...
summary() { awk -v k="$1:" 'index($0, k) == 1 { n += $NF } END { print n + 0 }' "$2"; }
run() {
    local name=$1; shift
    local log
    log=$(mktemp)
    local t0=$SECONDS
    echo "=== $name: meson test $*"
    if meson test --print-errorlogs "$@" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
        :
    else
        runs_failed=$((runs_failed + 1))
        echo "=== $name: FAILED"
    fi
    tests_passed=$((tests_passed + $(summary Ok "$log") + $(summary "Expected Fail" "$log")))
    tests_failed=$((tests_failed + $(summary Fail "$log") + $(summary Timeout "$log") + \
                    $(summary "Unexpected Pass" "$log")))
    rm -f "$log"
    echo "=== $name: $((SECONDS - t0)) s"
}

run plain -C build
run valgrind -C build --setup valgrind
run sanitizers -C build-asan
run fuzzing -C build-fuzz --suite fuzz

# every test of the three runs; a run that failed without a failed test
# (a build error, say) counts as one failed test
[ "$runs_failed" -gt 0 ] && [ "$tests_failed" -eq 0 ] && tests_failed=$runs_failed
echo "libvirt-vmi: $tests_passed passed, $tests_failed failed"
[ "$runs_failed" -eq 0 ] && [ "$tests_failed" -eq 0 ]
