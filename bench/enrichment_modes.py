"""Broadcast vs keyed join on FnApiRunner: peak RSS and wall time of a whole pipeline run.

    python bench/enrichment_modes.py 1000000 20000

Each mode runs in a fresh subprocess: N lookup rows (CSV), M input rows, every input row
hitting the lookup. Reports the process's peak RSS (ru_maxrss) and the run time.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def run_one(mode, n_lookup, n_rows):
  import apache_beam as beam

  from beam_pipelines.transforms.enrichment.config import EnrichmentConfig
  from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource
  from beam_pipelines.transforms.enrichment.transform import EnrichWithSideInput
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'lookup.csv')
    with open(path, 'w', encoding='utf-8') as f:
      f.write('customer_id,segment,region,name\n')
      for i in range(n_lookup):
        f.write(f'C{i:09d},seg{i % 17},region{i % 9},Customer number {i}\n')
    cfg = EnrichmentConfig(source=FileLookupSource(path), keys=('customer_id',),
                           fields=('segment', 'region'), mode=mode)
    step = max(1, n_lookup // n_rows)
    started = time.monotonic()
    with beam.Pipeline('FnApiRunner') as p:
      result = (p | beam.Create([{'customer_id': f'C{i * step:09d}'} for i in range(n_rows)])
                | EnrichWithSideInput(cfg))
      _ = result.rows | beam.combiners.Count.Globally() | beam.Map(
          lambda n, expected=n_rows: None if n == expected else sys.exit(f'got {n}'))
    seconds = time.monotonic() - started
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  return {'mode': mode, 'lookup_rows': n_lookup, 'rows': n_rows,
          'peak_rss_mib': round(peak), 'seconds': round(seconds, 1)}


def main(argv):
  if argv and argv[0] == '--one':
    print(json.dumps(run_one(argv[1], int(argv[2]), int(argv[3]))))
    return
  n_lookup = int(argv[0]) if argv else 1_000_000
  n_rows = int(argv[1]) if len(argv) > 1 else 20_000
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=repo)
  for mode in ('broadcast', 'keyed'):
    out = subprocess.run([sys.executable, __file__, '--one', mode, str(n_lookup), str(n_rows)],
                         env=env, check=True, capture_output=True, text=True).stdout
    print(out.strip().splitlines()[-1])


if __name__ == '__main__':
  main(sys.argv[1:])
