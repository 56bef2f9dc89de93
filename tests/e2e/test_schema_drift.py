"""--schema_drift against the BigQuery emulator: dead letters, and additive column updates."""

import json

import pytest

from beam_pipelines import files_to_bigquery

pytestmark = pytest.mark.emulator

SCHEMA = [
    {'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'user', 'type': 'RECORD', 'fields': [{'name': 'email', 'type': 'STRING'}]},
]
LINES = [
    {'id': 1, 'user': {'email': 'a@x'}},                               # fits the schema
    {'id': 2, 'extra': 'hello', 'n': 7},                               # two new columns
    {'id': 3, 'meta': {'source': 'app', 'v': 2.5}, 'labels': ['a', 'b'], 'gone': None},
    {'id': 4, 'user': {'email': 'd@x', 'age': 40}},                    # new field in a RECORD
    {'id': 'five', 'extra': 'x'},                                      # a real problem too
]


def _write(tmp_path, lines=LINES):
  data = tmp_path / 'in.jsonl'
  data.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return str(data), str(schema)


def _dead(client, dataset):
  return {r['sourceId'].rsplit(':', 1)[1]: (r['errorType'], r['stage'], r['errorMessage'])
          for r in client.query(f'SELECT * FROM {dataset}.t_error_records').result()}


def test_dead_letter_mode(tmp_path, bigquery_emulator, bq_client, bq_dataset):
  data, schema = _write(tmp_path)
  _, summary = files_to_bigquery.run([
      '--input', data, '--schema', schema, '--output_table', f'{bq_dataset}.t',
      '--schema_drift', 'dead_letter'], print_summary=False)
  ids = [r['id'] for r in bq_client.query(f'SELECT id FROM {bq_dataset}.t').result()]
  assert ids == [1]
  dead = _dead(bq_client, bq_dataset)
  assert {k: v[:2] for k, v in dead.items()} == {
      '2': ('schema_drift', 'validate'), '3': ('schema_drift', 'validate'),
      '4': ('schema_drift', 'validate'), '5': ('type_mismatch:id', 'validate')}
  assert dead['2'][2] == 'schema drift: fields not in the table schema: extra STRING, n INT64'
  assert dead['3'][2] == ('schema drift: fields not in the table schema: meta RECORD<source '
                          'STRING, v FLOAT64>, labels STRING REPEATED, gone (null)')
  assert dead['4'][2].endswith('user.age')
  assert [f.name for f in bq_client.get_table(f'{bq_dataset}.t').schema] == ['id', 'user']
  assert summary['dead_letters_by_type'] == {'schema_drift': 3, 'type_mismatch:id': 1}
  assert summary['drift'] == {'dead_letters': 3}
  assert summary['records_read'] == summary['rows_written'] + summary['dead_letters']


def test_evolve_mode_adds_nullable_columns_then_writes(tmp_path, bigquery_emulator,
                                                       bq_client, bq_dataset):
  from google.cloud import bigquery
  # An existing table with a row: evolution must keep it.
  bq_client.create_table(bigquery.Table(
      f'{bigquery_emulator.project}.{bq_dataset}.t',
      schema=[bigquery.SchemaField.from_api_repr(f) for f in SCHEMA]))
  assert not bq_client.insert_rows_json(f'{bq_dataset}.t', [{'id': 0}])
  data, schema = _write(tmp_path, LINES + [{'id': 6, 'n': 'not a number'}])
  _, summary = files_to_bigquery.run([
      '--input', data, '--schema', schema, '--output_table', f'{bq_dataset}.t',
      '--schema_drift', 'evolve', '--summary_path', str(tmp_path / 's.json')],
      print_summary=False)
  table = bq_client.get_table(f'{bq_dataset}.t')
  t = {'INTEGER': 'INT64', 'FLOAT': 'FLOAT64'}  # legacy names, as a real table reports
  got = {f.name: (t.get(f.field_type, f.field_type), f.mode,
                  [(g.name, t.get(g.field_type, g.field_type)) for g in f.fields])
         for f in table.schema}
  assert got == {
      'id': ('INT64', 'REQUIRED', []), 'user': ('RECORD', 'NULLABLE', [('email', 'STRING')]),
      'extra': ('STRING', 'NULLABLE', []), 'n': ('INT64', 'NULLABLE', []),
      'meta': ('RECORD', 'NULLABLE', [('source', 'STRING'), ('v', 'FLOAT64')]),
      'labels': ('STRING', 'REPEATED', [])}
  rows = [dict(r.items()) for r in bq_client.query(
      f'SELECT id, extra, n, meta, labels FROM {bq_dataset}.t ORDER BY id').result()]
  assert rows == [
      {'id': 0, 'extra': None, 'n': None, 'meta': None, 'labels': []},
      {'id': 1, 'extra': None, 'n': None, 'meta': None, 'labels': []},
      {'id': 2, 'extra': 'hello', 'n': 7, 'meta': None, 'labels': []},
      {'id': 3, 'extra': None, 'n': None, 'meta': {'source': 'app', 'v': 2.5},
       'labels': ['a', 'b']},
  ]
  dead = _dead(bq_client, bq_dataset)
  assert {k: v[0] for k, v in dead.items()} == {
      '4': 'schema_drift', '5': 'type_mismatch:id', '6': 'type_mismatch:n'}
  assert 'not evolved: new fields inside existing RECORD columns' in dead['4'][2]
  assert dead['6'][2].startswith('after adding columns to')
  assert summary['drift']['evolved_rows'] == 2
  assert summary['drift']['columns_added'] == 4
  assert summary['records_read'] == 6
  assert summary['rows_written'] + summary['dead_letters'] == 6
  written = json.loads((tmp_path / 's.json').read_text())
  assert written['drift'] == summary['drift']


def test_evolve_needs_streaming_inserts_and_a_table(tmp_path):
  data, schema = _write(tmp_path)
  with pytest.raises(SystemExit) as e:
    files_to_bigquery.run(['--input', data, '--schema', schema, '--output_table',
                           'my-project:d.t', '--schema_drift', 'evolve', '--write_method',
                           'FILE_LOADS', '--temp_location', str(tmp_path)])
  assert e.value.code == 2
  with pytest.raises(SystemExit):
    files_to_bigquery.run(['--input', data, '--schema', schema, '--output_table',
                           'my-project:d.t', '--schema_drift', 'dead_letter',
                           '--unknown_fields', 'dead_letter'])
