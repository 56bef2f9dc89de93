"""``make run-cdc``: cdc_to_bigquery on the bundled Debezium sample against a local BigQuery.

Starts bqemulator on a free loopback port (data in ``.demo-data/cdc-bigquery``), replicates
``samples/cdc/customers_changes.jsonl`` (a shuffled PostgreSQL change stream with a snapshot,
deletes, a key change, redeliveries and one bad record of each kind) into a replica, a change
log and an SCD2 history, prints the run summary and what landed, then runs the same input
again to show that a rerun changes nothing. Exit code 0 only when the counting invariant
holds in both runs and the rerun left the three tables as they were.
"""

import argparse
import json
import os
import shutil
import sys

from beam_pipelines.tools.emulators import BigQueryEmulator, prepare_duckdb_extensions

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SAMPLES = os.path.join(REPO, 'samples', 'cdc')
TABLES = ('customers', 'customers_changelog', 'customers_history')


def _rows(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


def _snapshot(client):
  return {t: sorted(json.dumps(r, sort_keys=True, default=str)
                    for r in _rows(client, f'SELECT * FROM crm.{t}')) for t in TABLES}


def _show(client):
  print('\nQueried back from the emulator:')
  for table in TABLES + ('customers_error_records',):
    count = _rows(client, f'SELECT COUNT(*) AS n FROM crm.{table}')[0]['n']
    print(f'  crm.{table:<32}{count:>6} rows')
  print('  replica, first rows (crm.customers):')
  for row in _rows(client, 'SELECT id, name, tier, balance, birth_date, _cdc_op, '
                           '_cdc_source_ts FROM crm.customers ORDER BY id LIMIT 5'):
    print('   ', {k: str(v) for k, v in row.items()})
  twice = _rows(client, 'SELECT MIN(id) AS id FROM crm.customers_history '
                        'WHERE valid_from = valid_to')[0]['id']
  print(f'  history of customer {twice} (crm.customers_history; two updates in one '
        'millisecond: the first version lasts no time):')
  for row in _rows(client, 'SELECT tier, valid_from, valid_to, is_current FROM '
                           f'crm.customers_history WHERE id = {twice} ORDER BY _cdc_order'):
    print(f'    {row["tier"]:<6} {row["valid_from"]}  ->  {row["valid_to"]}  '
          f'current={row["is_current"]}')
  print('  the key change 5 -> 105 (history):')
  for row in _rows(client, 'SELECT id, valid_from, valid_to, is_current FROM '
                           'crm.customers_history WHERE id IN (5, 105) ORDER BY valid_from, id'):
    print(f'    id {row["id"]:<4} {row["valid_from"]}  ->  {row["valid_to"]}  '
          f'current={row["is_current"]}')
  print('  dead letters by errorType (crm.customers_error_records):')
  for row in _rows(client, 'SELECT errorType, COUNT(*) AS n FROM crm.customers_error_records '
                           'GROUP BY errorType ORDER BY errorType'):
    print(f'    {row["errorType"]:<40}{row["n"]:>4}')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--input', default=os.path.join(SAMPLES, 'customers_changes.jsonl'))
  parser.add_argument('--schema', default=os.path.join(SAMPLES, 'customers_schema.json'))
  parser.add_argument('--data_dir', default=os.path.join(REPO, '.demo-data'))
  args = parser.parse_args(argv)

  prepare_duckdb_extensions()
  bq_dir = os.path.join(args.data_dir, 'cdc-bigquery')
  shutil.rmtree(bq_dir, ignore_errors=True)  # each demo run starts from an empty warehouse
  temp_dir = os.path.join(args.data_dir, 'cdc-tmp')
  os.makedirs(temp_dir, exist_ok=True)
  with BigQueryEmulator(data_dir=bq_dir, log_dir=args.data_dir) as bq:
    os.environ.update(bq.environment())
    for name in ('NO_GCE_CHECK', 'GCE_METADATA_HOST', 'GCE_METADATA_IP'):
      os.environ[name] = 'True' if name == 'NO_GCE_CHECK' else '127.0.0.1:9'
    print(f'BigQuery emulator on {bq.endpoint} (data in {bq_dir})')
    client = bq.client()
    client.create_dataset('crm', exists_ok=True)
    from beam_pipelines import cdc_to_bigquery
    pipeline_argv = [
        '--input', args.input, '--schema', args.schema, '--primary_key', 'id',
        '--output_table', f'{bq.project}:crm.customers',
        '--history_table', f'{bq.project}:crm.customers_history',
        '--cdc_decimal_mode', 'string',  # some records come without their schema
        '--temp_location', temp_dir]
    _, first = cdc_to_bigquery.run(pipeline_argv)
    _show(client)
    before = _snapshot(client)
    print('\nRunning the same input again (exactly once: nothing may change)...')
    _, second = cdc_to_bigquery.run(pipeline_argv, print_summary=False)
    unchanged = _snapshot(client) == before
  ok = (first['counting_invariant']['holds'] and second['counting_invariant']['holds']
        and unchanged and first['cdc']['changes_applied'] > 0
        and second['cdc']['changes_applied'] == 0)
  print(f'  rerun: {second["cdc"]["changes_applied"]} applied, '
        f'{second["cdc"]["duplicates"]} duplicates; replica, change log and history '
        f'unchanged: {"OK" if unchanged else "CHANGED"}')
  print(f'Counting invariant, both runs: {"OK" if ok else "MISMATCH"}')
  return 0 if ok else 1


if __name__ == '__main__':
  sys.exit(main())
