"""The test wrapper, for every test: how the project's own programs run
under $VMI_TEST_WRAPPER (valgrind, in `meson test --setup valgrind`), and
what counts as a report of valgrind or of the sanitizers (a
-Dsanitizers=true build).

    cmd = vw.wrap_once(("vmi-tool", "--listen"), [TOOL, "--listen", addr])
    r = subprocess.run(cmd, capture_output=True, text=True)
    stderr = vw.check_run(cmd, r.returncode, r.stderr)

WRAPPER is the prefix (shlex-split; [] without one), SLOW how much longer
every wait is under it, WAIT how long a test waits for what should come at
once. VMI_TEST_WRAP_ALL=1 puts every run under the wrapper (see
wrap_once()).
"""

import os
import re
import shlex
import subprocess

WRAPPER = shlex.split(os.environ.get("VMI_TEST_WRAPPER", ""))
# Under valgrind every program of ours is 20 to 50 times slower.
SLOW = 10 if WRAPPER else 1
WAIT = 10 * SLOW
WRAP_ALL = os.environ.get("VMI_TEST_WRAP_ALL", "") not in ("", "0")
# The exit status valgrind gives a program it found errors in (meson.build
# chooses it), None when the wrapper sets none.
ERROR_EXIT = next((int(a.split("=", 1)[1]) for a in WRAPPER
                   if a.startswith("--error-exitcode=")), None)

# Valgrind's own lines: ==PID== its reports (--quiet leaves only errors),
# --PID-- its warnings (a syscall it does not know...).
VALGRIND_LINE = re.compile(r"^(==|--)\d+(==|--) ")
VALGRIND_REPORT = re.compile(r"^==\d+==")
# AddressSanitizer and LeakSanitizer errors, and UBSan's (which abort:
# meson.build builds with -fno-sanitize-recover).
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")


def wrap(cmd):
    """The command line for one of the project's own programs, prefixed with
    the wrapper, every time."""
    return WRAPPER + list(cmd)


def wrapped(cmd):
    """Whether @cmd runs under the wrapper."""
    return bool(WRAPPER) and list(cmd[:len(WRAPPER)]) == WRAPPER


def quiet_period(seconds, *slows):
    """How long to watch for something that must not happen, which a
    native run would do within @seconds (a reconnect timer, say): twice
    that if a side runs under the wrapper (@slows: their slowness()). A
    program already running reacts to its timers a fraction of a second
    late there; the full SLOW factor is for start-up, which these waits
    never see."""
    return seconds * (2 if max(slows, default=1) > 1 else 1)


def slowness(cmd):
    """How much longer than natively @cmd takes to react: SLOW if it runs
    under the wrapper, 1 if not (what waits for something @cmd must not
    do are multiplied by)."""
    return SLOW if wrapped(cmd) else 1


# Under valgrind a run of one of our programs costs 1 to 4 s (libvirt,
# GLib, libxml2 loaded and checked), and the tests run each of them dozens
# of times in the same way. So each *kind* of run (what the caller says
# makes one: a command and its options, an error class, a scenario) goes
# under the wrapper the first times it is seen in a test process, and
# natively after that: the same assertions, every code path once under
# valgrind.
_wrapped_kinds = {}


def option_names(args):
    """The options among @args, names only (--name=value gives --name),
    sorted: what a kind of run is mostly made of."""
    return sorted({a.split("=", 1)[0] for a in map(str, args) if a.startswith("--")})


def wrap_once(kind, cmd, times=1):
    """wrap(@cmd) for the first @times runs of @kind (any hashable), @cmd
    after that; wrap(@cmd) always under VMI_TEST_WRAP_ALL."""
    if not WRAPPER or WRAP_ALL:
        return wrap(cmd)
    n = _wrapped_kinds.get(kind, 0)
    _wrapped_kinds[kind] = n + 1
    return wrap(cmd) if n < times else list(cmd)


def reports(text):
    """The lines of a log or an output (@text) that report problems: the
    sanitizers' always, valgrind's under the wrapper."""
    return [ln for ln in text.splitlines()
            if (WRAPPER and VALGRIND_REPORT.match(ln)) or SANITIZER_REPORT.search(ln)]


def check_reports(testcase, text, what):
    """Fails @testcase if @text (a log or output of @what) holds any report:
    for a program whose exit status reaches no one (a relay, a daemon's
    child). The message has the whole report (where it was allocated...)."""
    found = reports(text)
    if found:
        testcase.fail(f"valgrind or a sanitizer reported problems in {what}:\n" + "\n".join(found))


def check_run(cmd, rc, stderr):
    """For a run of @cmd that ended with exit status @rc: raises
    AssertionError if valgrind found errors (its exit status) or a
    sanitizer reported any; returns @stderr without valgrind's own lines,
    for the test to compare (its warnings, and the reports of children that
    exit without exec, which only their parent sees the status of)."""
    if WRAPPER and rc == ERROR_EXIT:
        raise AssertionError(f"valgrind reported errors in {shlex.join(cmd)}:\n{stderr}")
    found = [ln for ln in stderr.splitlines() if SANITIZER_REPORT.search(ln)]
    if found:
        raise AssertionError(f"a sanitizer reported problems in {shlex.join(cmd)}:\n{stderr}")
    if not WRAPPER:
        return stderr
    return "".join(ln for ln in stderr.splitlines(keepends=True) if not VALGRIND_LINE.match(ln))


def run(cmd, **kwargs):
    """subprocess.run(@cmd) with its output captured as text, through
    check_run(): its stderr without valgrind's own lines."""
    res = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    res.stderr = check_run(cmd, res.returncode, res.stderr)
    return res
