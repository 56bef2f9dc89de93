"""``make run``: the flagship pipeline on bundled sample data against a local BigQuery.

Starts bqemulator on a free loopback port with its data in ``.demo-data/bigquery``, runs
``files_to_bigquery`` on the sample events (FnApiRunner, no GCP account needed), prints the
run summary and a few rows queried back through google-cloud-bigquery, then stops the
emulator. Exit code 0 only when rows were written and the counts add up.
"""

import argparse
import os
import shutil
import sys

from beam_pipelines import resources
from beam_pipelines.runtime.prog import prog_name
from beam_pipelines.tools.emulators import (BigQueryEmulator, EmulatorError,
                                            prepare_duckdb_extensions)
# A DEMO key, public in this file: fine for sample data, never for real data. Real runs read
# their key from a variable, a file or Secret Manager they control (see docs/gdpr.md).
DEMO_KEY_VARIABLE = 'BEAM_PIPELINES_DEMO_MASKING_KEY'
DEMO_KEY = 'demo-only-masking-key-do-not-use-for-real-data'


def _loopback_only_environment(bq):
  os.environ.update(bq.environment())
  # Nothing in the demo may probe a GCE metadata server.
  os.environ['NO_GCE_CHECK'] = 'True'
  os.environ['GCE_METADATA_HOST'] = '127.0.0.1:9'
  os.environ['GCE_METADATA_IP'] = '127.0.0.1:9'


def main(argv=None):
  parser = argparse.ArgumentParser(prog=prog_name('beam_pipelines.tools.demo'),
                                   description=__doc__.splitlines()[0])
  sample = resources.sample  # the sample files the package ships
  parser.add_argument('--input', default=sample('events.jsonl'))
  parser.add_argument('--schema', default=sample('events_schema.json'))
  parser.add_argument('--data_dir', default='.demo-data',
                      help='emulator data, logs and the summary (default: %(default)s, in '
                           'the working directory)')
  parser.add_argument('--masking_policy', default=sample('masking_policy.yaml'))
  parser.add_argument('--erase_list', default=sample('erase_list.txt'))
  # Enrichment: country_code -> region from a bundled lookup that leaves NG out on purpose,
  # so the missing-key policy shows (keep: NG rows are written with region NULL).
  parser.add_argument('--enrichment_source', default=sample('country_regions.csv'))
  parser.add_argument('--enrichment_missing', default='keep')
  parser.add_argument('--quality_rules', default=sample('quality_rules.yaml'))
  args = parser.parse_args(argv)

  try:
    prepare_duckdb_extensions()
  except EmulatorError as e:
    print(f'demo: error: {e}', file=sys.stderr)
    return 1
  bq_dir = os.path.join(args.data_dir, 'bigquery')
  shutil.rmtree(bq_dir, ignore_errors=True)  # each demo run starts from an empty warehouse
  temp_dir = os.path.join(args.data_dir, 'tmp')
  os.makedirs(temp_dir, exist_ok=True)
  with BigQueryEmulator(data_dir=bq_dir, log_dir=args.data_dir) as bq:
    _loopback_only_environment(bq)
    print(f'BigQuery emulator on {bq.endpoint} (data in {bq_dir})')
    client = bq.client()
    client.create_dataset('demo', exists_ok=True)
    from beam_pipelines import files_to_bigquery
    os.environ[DEMO_KEY_VARIABLE] = DEMO_KEY
    print(f'Masking PII with {args.masking_policy} and a DEMO key from ${DEMO_KEY_VARIABLE} '
          '(a published demo key: pseudonyms made with it protect nothing)')
    _, summary = files_to_bigquery.run([
        '--input', args.input, '--schema', args.schema,
        '--output_table', f'{bq.project}:demo.events',
        '--temp_location', temp_dir,
        '--masking_policy', args.masking_policy,
        '--masking_key_source', f'env:{DEMO_KEY_VARIABLE}',
        '--erase_list', args.erase_list, '--subject_field', 'user.id',
        '--enrichment_source', args.enrichment_source, '--enrichment_keys', 'country_code',
        '--enrichment_fields', 'region', '--enrichment_missing', args.enrichment_missing,
        '--quality_rules', args.quality_rules,
        '--summary_path', os.path.join(args.data_dir, 'summary.json'),
    ])
    table_rows = list(client.query('SELECT COUNT(*) AS n FROM demo.events').result())[0].n
    error_rows = list(client.query(
        'SELECT COUNT(*) AS n FROM demo.events_error_records').result())[0].n
    print()
    print('Queried back from the emulator:')
    print(f'  demo.events                 {table_rows:>8} rows')
    print(f'  demo.events_error_records   {error_rows:>8} rows')
    sample = client.query(
        'SELECT event_id, event_type, user.id AS user_id, user.email AS email, '
        'device.ip AS ip, country_code, amount, ARRAY_LENGTH(items) AS n_items '
        'FROM demo.events ORDER BY event_id LIMIT 5').result()
    print('  first rows of demo.events:')
    for row in sample:
      print('   ', dict(row.items()))
    print('  rows by region (added by the Enrich step; NULL = no lookup entry):')
    for row in client.query(
        'SELECT region, COUNT(*) AS n FROM demo.events GROUP BY region '
        'ORDER BY region').result():
      print(f'    {str(row.region):<40}{row.n:>6}')
    print('  data-quality scores, first hours (demo.events_quality):')
    for row in client.query(
        'SELECT * FROM demo.events_quality ORDER BY window_start LIMIT 3').result():
      scores = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                if k in ('window_start', 'rows_checked', 'completeness', 'validity',
                         'uniqueness', 'freshness')}
      print('   ', scores)
    errors = client.query(
        'SELECT errorType, COUNT(*) AS n FROM demo.events_error_records '
        'GROUP BY errorType ORDER BY n DESC, errorType').result()
    print('  dead letters by errorType (from the table):')
    for row in errors:
      print(f'    {row.errorType:<40}{row.n:>6}')
  read = summary['records_read']
  # Records removed on purpose are counted, not lost: erased subjects (GDPR) and rows the
  # enrichment drops (--enrichment_missing drop).
  erased = summary.get('erased', 0)
  dropped = summary['counters'].get('enrich/dropped', 0)
  ok = (table_rows > 0 and error_rows > 0
        and read == table_rows + error_rows + erased + dropped
        and summary['rows_written'] == table_rows)
  print()
  print(f'Counting invariant: records read {read} == rows written {table_rows} + '
        f'dead letters {error_rows} + erased {erased} + dropped by enrichment {dropped}: '
        f'{"OK" if ok else "MISMATCH"}')
  return 0 if ok else 1


if __name__ == '__main__':
  sys.exit(main())
