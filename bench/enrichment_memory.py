"""Lookup size vs memory: RSS of a process that loads N lookup rows into the broadcast index.

    python bench/enrichment_memory.py 10000 100000 1000000

Each size runs in a fresh subprocess: writes a CSV lookup of N rows (key, 3 short string
columns), loads it with ``FileLookupSource`` + ``build_index`` (what the broadcast side input
holds), and reports RSS before/after, the index's pickled size (roughly what a runner ships
to each worker) and the load time.
"""

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time


def rss_mib():
  with open('/proc/self/status', encoding='ascii') as f:
    for line in f:
      if line.startswith('VmRSS:'):
        return int(line.split()[1]) / 1024
  return float('nan')


def measure(n):
  from beam_pipelines.transforms.enrichment.config import EnrichmentConfig, build_index
  from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 'lookup.csv')
    with open(path, 'w', encoding='utf-8') as f:
      f.write('customer_id,segment,region,name\n')
      for i in range(n):
        f.write(f'C{i:09d},seg{i % 17},region{i % 9},Customer number {i}\n')
    cfg = EnrichmentConfig(source=FileLookupSource(path), keys=('customer_id',),
                           fields=('segment', 'region', 'name'))
    before = rss_mib()
    started = time.monotonic()
    index = build_index(cfg.source.read(), cfg)
    seconds = time.monotonic() - started
    after = rss_mib()
    pickled = len(pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)) / 2**20
    return {'rows': n, 'entries': len(index), 'rss_before_mib': round(before, 1),
            'rss_after_mib': round(after, 1), 'index_rss_mib': round(after - before, 1),
            'bytes_per_row': round((after - before) * 2**20 / n),
            'pickled_mib': round(pickled, 1), 'load_seconds': round(seconds, 2)}


def main(argv):
  if argv and argv[0] == '--one':
    print(json.dumps(measure(int(argv[1]))))
    return
  sizes = [int(a) for a in argv] or [10_000, 100_000, 1_000_000]
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=repo)
  print(f'{"rows":>9} {"RSS before":>11} {"RSS after":>10} {"index RSS":>10} '
        f'{"B/row":>6} {"pickled":>8} {"load s":>7}')
  for n in sizes:
    out = subprocess.run([sys.executable, __file__, '--one', str(n)], env=env, check=True,
                         capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    print(f'{r["rows"]:>9} {r["rss_before_mib"]:>9.1f}Mi {r["rss_after_mib"]:>8.1f}Mi '
          f'{r["index_rss_mib"]:>8.1f}Mi {r["bytes_per_row"]:>6} {r["pickled_mib"]:>6.1f}Mi '
          f'{r["load_seconds"]:>7}')


if __name__ == '__main__':
  main(sys.argv[1:])
