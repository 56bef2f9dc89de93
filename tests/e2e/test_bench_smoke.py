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
       '--programs', 'suite,python_strict', '--shapes', 'ordinary,many_windows',
       '--work-dir', str(tmp_path)],
      cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  with open(tmp_path / 'latest.json', encoding='utf-8') as f:
    report = json.load(f)
  runs = {(r['shape'], r['program']): r for r in report['runs']}
  assert set(runs) == {(shape, program) for shape in ('ordinary', 'many_windows')
                       for program in ('suite', 'python_strict')}
  for shape in ('ordinary', 'many_windows'):
    suite, strict = runs[(shape, 'suite')], runs[(shape, 'python_strict')]
    assert suite['rows'] + suite['dead_letters'] == 2000
    # The strict baseline validates with the suite's own validator: the same records pass
    # and the same (event_type, window) counts come out.
    assert (suite['rows'], suite['windows']) == (strict['rows'], strict['windows'])
  # Ordinary data: a few windows per key; many_windows: a window for most events.
  assert runs[('ordinary', 'suite')]['windows'] < runs[('many_windows', 'suite')]['windows'] / 2
  assert [e['shape'] for e in report['summary']] == ['ordinary', 'many_windows']
  assert report['summary'][0]['ratios']['suite/python_strict']['cpu_median'] > 0
