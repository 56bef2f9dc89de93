"""What the exactly-once load tests share: input files, the run's arguments against the
BigQuery emulator, and the counts they check (rows, distinct ids, dead letters, manifest)."""

import json
import os

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'name', 'type': 'STRING'},
          {'name': 'day', 'type': 'DATE'}]


def write_file(folder, name, ids, bad=1, day='2026-01-01', mtime=None):
  """A JSONL file: one good row per id, then ``bad`` lines that are not JSON."""
  path = os.path.join(folder, name)
  with open(path, 'w') as f:
    for i in ids:
      f.write(json.dumps({'id': i, 'name': f'n{i}', 'day': day}) + '\n')
    for j in range(bad):
      f.write('{"id": %d, broken\n' % (1000 + j))
  if mtime is not None:
    os.utime(path, (mtime, mtime))
  return path


def make_setup(tmp_path, bigquery_emulator, bq_dataset):
  """The input folder, the base argv of a run and the dataset (a test's ``setup`` fixture)."""
  data = tmp_path / 'in'
  data.mkdir()
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  base = ['--input', str(data / '*.jsonl'), '--schema', str(schema), '--output_table', table,
          '--temp_location', str(tmp_path / 'tmp')]
  return {'data': str(data), 'base': base, 'dataset': bq_dataset}


def counts(client, dataset):
  """(rows, distinct ids, dead letters, manifest entries)."""
  def one(sql):
    return list(client.query(sql).result())[0][0]
  return (one(f'SELECT COUNT(*) FROM {dataset}.events'),
          one(f'SELECT COUNT(DISTINCT id) FROM {dataset}.events'),
          one(f'SELECT COUNT(*) FROM {dataset}.events_error_records'),
          one(f'SELECT COUNT(*) FROM {dataset}.events_loads'))


def manifest(client, dataset):
  return sorted((os.path.basename(r['path']), r['rows'], r['dead_letters'], r['action'])
                for r in client.query(f'SELECT * FROM {dataset}.events_loads').result())


def safe_counts(client, dataset):
  """``counts`` with 0 for a table the killed run never created."""
  from google.api_core.exceptions import NotFound
  try:
    return counts(client, dataset)
  except NotFound:
    tables = {t.table_id for t in client.list_tables(dataset)}
    assert 'events_loads' not in tables or list(client.query(
        f'SELECT COUNT(*) FROM {dataset}.events_loads').result())[0][0] == 0
    return (0, 0, 0, 0)
