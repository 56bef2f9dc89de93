"""``make run``: the flagship pipeline on bundled sample data against a local BigQuery.

Starts bqemulator on a free loopback port with its data in ``.demo-data/bigquery``, writes
the sample events dated relative to now (``.demo-data/events.jsonl``: the same records as
``samples/events.jsonl``, the last one a few minutes old, so the freshness rules hold on any
day), runs ``files_to_bigquery`` on them (FnApiRunner, no GCP account needed) with the
sample's quality and SLA rules, prints the short run summary and a few rows queried back
through google-cloud-bigquery, writes the run report (``.demo-data/report.html``), then
stops the emulator. Exit code 0 only when rows were written and the counts add up.
"""

import argparse
import os
import shutil
import sys

from beam_pipelines import resources
from beam_pipelines.samples import generate_events
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
  parser.add_argument('--input', default=None,
                      help='events to load (default: the sample events, dated relative to '
                           'now, written to <data_dir>/events.jsonl)')
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
  parser.add_argument('--report_path', default=None,
                      help='the run report (default: <data_dir>/report.html)')
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
  if args.input is None:
    args.input = os.path.join(args.data_dir, 'events.jsonl')
    generate_events.write(args.input, start=generate_events.relative_start())
  report_path = args.report_path or os.path.join(args.data_dir, 'report.html')
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
        '--report_path', report_path,
    ])
    table_rows = list(client.query('SELECT COUNT(*) AS n FROM demo.events').result())[0].n
    error_rows = list(client.query(
        'SELECT COUNT(*) AS n FROM demo.events_error_records').result())[0].n
    print()
    print('Queried back from the emulator:')
    print(f'  demo.events                 {table_rows:>8} rows')
    print(f'  demo.events_error_records   {error_rows:>8} rows')
    alert_rows = list(client.query('SELECT COUNT(*) AS n FROM demo.events_alerts').result())[0].n
    print(f'  demo.events_alerts          {alert_rows:>8} rows')
    sample = client.query(
        'SELECT event_id, user.id AS user_id, user.email AS email, device.ip AS ip, region '
        'FROM demo.events ORDER BY event_id LIMIT 3').result()
    print('  first rows of demo.events (masked, enriched):')
    for row in sample:
      print('   ', dict(row.items()))
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
  print(f'Run report: {os.path.abspath(report_path)}')
  return 0 if ok else 1


if __name__ == '__main__':
  sys.exit(main())
