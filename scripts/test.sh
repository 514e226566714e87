#!/bin/bash
# The whole test suite, as CI runs it (.ci/run): installs what it needs,
# builds, then runs every test three times: plainly, with every program
# under valgrind's memcheck, and built with AddressSanitizer+UBSan.
set -uo pipefail

cd "$(dirname "$0")/.."
scripts/setup-host.sh || exit 1

if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Dsanitizers=true || exit 1
fi
ninja -C build-asan || exit 1

passed=0
failed=0
run() {
    local name=$1; shift
    echo "=== $name: meson test $*"
    if meson test --print-errorlogs "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "=== $name: FAILED"
    fi
}

run plain -C build
run valgrind -C build --setup valgrind
run sanitizers -C build-asan

echo "libvirt-vmi test runs (plain, valgrind, sanitizers): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
