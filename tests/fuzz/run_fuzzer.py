#!/usr/bin/python3
"""Runs one libFuzzer harness of tests/fuzz for a time, from seeds that
fuzz_seeds.py makes of the tests' data (plus a corpus kept from earlier
runs, if given), one job on one core. Prints a summary line

  fuzz NAME: SECONDS s, EXECS execs, cov COV, ft FT, corpus N, findings K

and, on a finding, where libFuzzer wrote the input that triggered it.
Exits 0 if the run found nothing, 1 otherwise.

usage: run_fuzzer.py [--seconds S] [--corpus DIR] [--artifacts DIR] NAME HARNESS
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument('--seconds', type=int, default=60)
    ap.add_argument('--corpus', help='keep the corpus there (created if missing)')
    ap.add_argument('--artifacts', help='where a crashing input goes (default: a temporary '
                    'directory, kept on a finding)')
    ap.add_argument('name')
    ap.add_argument('harness')
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix='vmi-fuzz-%s-' % args.name)
    found = False
    try:
        seeds = os.path.join(tmp, 'seeds')
        subprocess.run([sys.executable, os.path.join(HERE, 'fuzz_seeds.py'), args.name, seeds],
                       check=True)
        corpus = args.corpus or os.path.join(tmp, 'corpus')
        os.makedirs(corpus, exist_ok=True)
        artifacts = args.artifacts or os.path.join(tmp, 'artifacts')
        os.makedirs(artifacts, exist_ok=True)
        earlier = set(os.listdir(artifacts))
        cmd = [args.harness,
               '-max_total_time=%d' % args.seconds,
               '-timeout=10',             # one input taking longer is a finding
               '-rss_limit_mb=2048',
               '-max_len=65536',
               '-print_final_stats=1',
               '-artifact_prefix=%s/' % artifacts,
               corpus, seeds]
        env = dict(os.environ)
        env.setdefault('ASAN_OPTIONS', 'detect_leaks=1:abort_on_error=1')
        env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
        print('+ ' + ' '.join(cmd), flush=True)
        start = time.monotonic()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, errors='replace')
        elapsed = time.monotonic() - start
        out = proc.stdout
        # inputs of earlier runs' findings are not this run's
        crashes = sorted(set(os.listdir(artifacts)) - earlier)
        found = proc.returncode != 0 or bool(crashes)
        if found:
            sys.stdout.write(out[-20000:])
        else:
            sys.stdout.write('\n'.join(out.splitlines()[-12:]) + '\n')

        def stat(key):
            m = re.search(r'stat::%s:\s*(\d+)' % key, out)
            return m.group(1) if m else '?'
        covs = re.findall(r'cov: (\d+) ft: (\d+)', out)
        cov, ft = covs[-1] if covs else ('?', '?')
        print('fuzz %s: %d s, %s execs, cov %s, ft %s, corpus %d, findings %d' % (
            args.name, round(elapsed), stat('number_of_executed_units'), cov, ft,
            len(os.listdir(corpus)), len(crashes) or int(found)))
        for name in crashes:
            path = os.path.join(artifacts, name)
            print('fuzz %s: FINDING: the input is %s (rerun: %s %s)' % (
                args.name, path, args.harness, path))
        if found and not crashes:
            print('fuzz %s: FINDING: the harness exited %d without an input file '
                  '(see its output above)' % (args.name, proc.returncode))
    finally:
        if found and not args.artifacts:
            # the crashing inputs stay for the report above; the rest goes
            shutil.rmtree(os.path.join(tmp, 'seeds'), ignore_errors=True)
            shutil.rmtree(os.path.join(tmp, 'corpus'), ignore_errors=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
