"""Smoke test of the benchmark harness (issue 8): `bench/run_bench.py --quick` end to end on
2,000 events. The benchmarks themselves never run in `make test`."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_run_bench_quick(tmp_path):
  done = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'bench', 'run_bench.py'), '--quick',
       '--programs', 'suite,python', '--work-dir', str(tmp_path)],
      cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  with open(tmp_path / 'latest.json', encoding='utf-8') as f:
    report = json.load(f)
  runs = {r['program']: r for r in report['runs']}
  for program in ('suite', 'python'):
    assert runs[program]['rows'] + runs[program]['dead_letters'] == 2000
    assert runs[program]['windows'] > 0
  # Same windowed counts per (event_type, window) wherever both accepted the same records.
  assert abs(runs['suite']['windows'] - runs['python']['windows']) <= 40
  assert report['summary'][0]['ratios']['suite/python']['median'] > 0
