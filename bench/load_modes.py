"""Cost of exactly-once loads: ``--load_mode incremental`` against ``append`` (the baseline,
same run, same input), into the local BigQuery emulator.

    python bench/load_modes.py --count 200000

Runs files_to_bigquery on the same generated input (bench/generate.py) into fresh tables:
``append`` with FILE_LOADS (the baseline, run first and again last: the two show the noise),
``incremental`` (a first load: staging files, a staging table per table, one commit
transaction), and ``incremental`` again (a rerun: the manifest says every file is loaded,
nothing is read); with ``--streaming_inserts`` also ``append`` with STREAMING_INSERTS (slow
into the emulator: about 13 minutes for 200k rows here). Prints, per mode,
wall time and the HTTP calls made to BigQuery (every request the run's clients send to the
emulator, counted in this process: ``--direct_num_workers 1`` keeps the runner in it), and
the ratios against ``append`` FILE_LOADS.
"""

import argparse
import collections
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, 'bench'))


def count_http_calls():
  """Counts requests sent through requests (google-cloud-bigquery) and httplib2 (Beam's
  apitools client). Returns the Counter, keyed by method."""
  import httplib2
  import requests
  calls = collections.Counter()
  real_send = requests.Session.request
  real_http = httplib2.Http.request

  def send(self, method, url, *args, **kwargs):
    calls[method.upper()] += 1
    return real_send(self, method, url, *args, **kwargs)

  def http(self, uri, method='GET', *args, **kwargs):
    calls[method.upper()] += 1
    return real_http(self, uri, method, *args, **kwargs)
  requests.Session.request = send
  httplib2.Http.request = http
  return calls


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--count', type=int, default=200000)
  parser.add_argument('--streaming_inserts', action='store_true',
                      help='also time append with STREAMING_INSERTS')
  args = parser.parse_args(argv)
  import generate
  from beam_pipelines import files_to_bigquery
  from beam_pipelines.tools.emulators import BigQueryEmulator, prepare_duckdb_extensions
  work = tempfile.mkdtemp(prefix='bench_loads_')
  data = os.path.join(work, 'in', 'events.jsonl')
  generate.main(['--count', str(args.count), '--out', data])
  schema = os.path.join(REPO, 'samples', 'events_schema.json')
  prepare_duckdb_extensions()
  calls = count_http_calls()
  results = []
  with BigQueryEmulator(log_dir=work) as emulator:
    os.environ.update(emulator.environment())
    client = emulator.client()
    append = ['--load_mode', 'append', '--write_method', 'FILE_LOADS']
    runs = [('append FILE_LOADS', 'a', append)]
    if args.streaming_inserts:
      runs.append(('append STREAMING_INSERTS', 's', ['--load_mode', 'append']))
    runs += [('incremental (first load)', 'i', ['--load_mode', 'incremental']),
             ('incremental (rerun)', 'i', ['--load_mode', 'incremental']),
             ('append FILE_LOADS (again)', 'b', append)]
    for name, dataset, extra in runs:
      if dataset not in {d.dataset_id for d in client.list_datasets()}:
        client.create_dataset(dataset)
      calls.clear()
      started = time.perf_counter()
      _, summary = files_to_bigquery.run([
          '--input', data, '--schema', schema, '--output_table', f'{dataset}.events',
          '--temp_location', os.path.join(work, 'tmp'), '--direct_num_workers', '1'] + extra,
          print_summary=False)
      seconds = time.perf_counter() - started
      rows = list(client.query(f'SELECT COUNT(*) FROM {dataset}.events').result())[0][0]
      results.append({'mode': name, 'seconds': round(seconds, 1),
                      'bigquery_calls': sum(calls.values()), 'calls': dict(calls),
                      'rows_in_table': rows, 'dead_letters': summary['dead_letters'],
                      'records_read': summary['records_read']})
      print(json.dumps(results[-1]), flush=True)
  base = results[0]
  print(f'\n{args.count} events; ratios against append FILE_LOADS '
        f'({base["seconds"]} s, {base["bigquery_calls"]} BigQuery calls):')
  for r in results:
    print(f'  {r["mode"]:<28} {r["seconds"]:>7} s  x{r["seconds"] / base["seconds"]:.2f}  '
          f'{r["bigquery_calls"]:>6} calls  rows in table {r["rows_in_table"]}')


if __name__ == '__main__':
  main()
