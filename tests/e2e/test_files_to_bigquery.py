"""files_to_bigquery end to end against the BigQuery emulator: exact rows, exact dead letters."""

import base64
import decimal
import json
import os

import apache_beam as beam
import pytest

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_FIELDS

pytestmark = pytest.mark.emulator

SCHEMA = [
    {'name': 'id', 'type': 'INTEGER', 'mode': 'REQUIRED'},
    {'name': 'name', 'type': 'STRING'},
    {'name': 'amount', 'type': 'NUMERIC'},
    {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'},
    {'name': 'user', 'type': 'RECORD', 'fields': [
        {'name': 'email', 'type': 'STRING', 'mode': 'REQUIRED'}]},
]

GOOD = [
    {'id': 1, 'name': 'a', 'amount': '1.50', 'ts': '2026-01-01T00:00:00Z', 'tags': ['x'],
     'user': {'email': 'a@example.com'}},
    {'id': 2, 'name': 'b', 'tags': [], 'user': {'email': 'b@example.com'}},
    {'id': 3},
]
BAD_LINES = [
    (b'{"id": 4, "name": ', 'invalid_json', 'parse'),
    (b'{"name": "no id"}', 'missing_required:id', 'validate'),
    (b'{"id": "five"}', 'type_mismatch:id', 'validate'),
    (b'{"id": 6, "user": {}}', 'missing_required:user.email', 'validate'),
    (b'{"id": 7, "ts": "2026-13-01"}', 'invalid_value:ts', 'validate'),
    (b'', 'empty_record', 'parse'),
]


def write_input(tmp_path):
  path = tmp_path / 'events.jsonl'
  lines = [json.dumps(r).encode() for r in GOOD] + [line for line, _, _ in BAD_LINES]
  path.write_bytes(b'\n'.join(lines) + b'\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return str(path), str(schema)


def rows_of(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


@pytest.mark.parametrize('write_method', ['STREAMING_INSERTS', 'FILE_LOADS'])
def test_exact_rows_and_dead_letters(tmp_path, bigquery_emulator, bq_client, bq_dataset,
                                     write_method):
  input_path, schema_path = write_input(tmp_path)
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  _, summary = files_to_bigquery.run([
      '--input', input_path, '--schema', schema_path, '--output_table', table,
      '--write_method', write_method, '--temp_location', str(tmp_path / 'tmp'),
  ], print_summary=False)

  rows = rows_of(bq_client, f'SELECT id, name, amount, '
                            f'FORMAT_TIMESTAMP("%FT%TZ", ts) AS ts, tags, user '
                            f'FROM {bq_dataset}.events ORDER BY id')
  assert rows == [
      {'id': 1, 'name': 'a', 'amount': decimal.Decimal('1.5'), 'ts': '2026-01-01T00:00:00Z', 'tags': ['x'],
       'user': {'email': 'a@example.com'}},
      {'id': 2, 'name': 'b', 'amount': None, 'ts': None, 'tags': [],
       'user': {'email': 'b@example.com'}},
      {'id': 3, 'name': None, 'amount': None, 'ts': None, 'tags': [], 'user': None},
  ]

  dead = rows_of(bq_client, f'SELECT * FROM {bq_dataset}.events_error_records')
  by_source = {d['sourceId']: d for d in dead}
  expected = {f'{input_path}:{len(GOOD) + i + 1}': (line, error_type, stage)
              for i, (line, error_type, stage) in enumerate(BAD_LINES)}
  assert set(by_source) == set(expected)
  for source_id, (line, error_type, stage) in expected.items():
    record = by_source[source_id]
    assert record['errorType'] == error_type
    assert record['stage'] == stage
    assert record['payloadString'] == line.decode()
    assert record['pipeline'] == 'files_to_bigquery'
    assert record['errorMessage']
    assert {a['key']: a['value'] for a in record['attributes']} == {
        'file': input_path, 'format': 'jsonl'}
    assert record['timestamp'] is not None

  # Counting invariant: records in == rows written + dead letters.
  assert summary['records_read'] == len(GOOD) + len(BAD_LINES)
  assert summary['rows_written'] == len(rows) == len(GOOD)
  assert summary['dead_letters'] == len(dead) == len(BAD_LINES)
  assert summary['dead_letters_by_type']['invalid_json'] == 1


def test_dead_letter_table_has_exactly_the_design_schema(tmp_path, bigquery_emulator,
                                                         bq_client, bq_dataset):
  input_path, schema_path = write_input(tmp_path)
  files_to_bigquery.run([
      '--input', input_path, '--schema', schema_path,
      '--output_table', f'{bq_dataset}.events',
      '--dead_letter_table', f'{bq_dataset}.my_errors'], print_summary=False)
  table = bq_client.get_table(f'{bq_dataset}.my_errors')
  got = [(f.name, f.field_type, f.mode) for f in table.schema]
  assert got == [(f['name'], f['type'], f['mode']) for f in DEAD_LETTER_FIELDS]
  assert len(got) == 11
  payloads = [base64.b64decode(r['b']) for r in rows_of(
      bq_client, f'SELECT TO_BASE64(payloadBytes) AS b FROM {bq_dataset}.my_errors')]
  assert sorted(payloads) == sorted(line for line, _, _ in BAD_LINES)


def test_sample_data_invariant(tmp_path, bigquery_emulator, bq_client, bq_dataset):
  repo = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
  _, summary = files_to_bigquery.run([
      '--input', os.path.join(repo, 'samples', 'events.jsonl'),
      '--schema', os.path.join(repo, 'samples', 'events_schema.json'),
      '--output_table', f'{bq_dataset}.events'], print_summary=False)
  written = rows_of(bq_client, f'SELECT COUNT(*) AS n FROM {bq_dataset}.events')[0]['n']
  dead = rows_of(bq_client, f'SELECT COUNT(*) AS n FROM {bq_dataset}.events_error_records')
  assert summary['records_read'] == 3000
  assert written > 2500 and dead[0]['n'] > 50
  assert written + dead[0]['n'] == summary['records_read']


@pytest.mark.parametrize('argv,message', [
    (['--schema', 's.json', '--output_table', 'my-project:d.t'], '--input is required'),
    (['--input', 'x', '--output_table', 'my-project:d.t'], '--schema is required'),
    (['--input', 'x', '--schema', '/no/such.json', '--output_table', 'my-project:d.t'],
     "--schema: cannot read schema file '/no/such.json'"),
    (['--input', 'x', '--schema', '{schema}', '--output_table', 'not a table'],
     '--output_table'),
    (['--input', 'x', '--schema', '{schema}', '--output_table', 'my-project:d.t',
      '--write_method', 'CARRIER_PIGEON'], 'write_method'),
    (['--input', 'x', '--schema', '{schema}', '--output_table', 'my-project:d.t',
      '--input_format', 'xml'], '--input_format'),
    (['--input', 'x', '--schema', '{schema}', '--output_table', 'my-project:d.t',
      '--unknown_fields', 'maybe'], '--unknown_fields'),
])
def test_configuration_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  argv = [a.replace('{schema}', str(schema)) for a in argv]
  with pytest.raises(SystemExit) as exit_info:
    files_to_bigquery.run(argv)
  assert exit_info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and message in err[0]


def test_missing_input_fails_loudly(tmp_path, capsys, bigquery_emulator, bq_dataset):
  _, schema_path = write_input(tmp_path)
  argv = ['--input', str(tmp_path / 'nothing-here-*.jsonl'), '--schema', schema_path,
          '--output_table', f'{bq_dataset}.events']
  # The command: one line naming --input, exit code 2, before any pipeline is built.
  with pytest.raises(SystemExit) as info:
    files_to_bigquery.run(argv, print_summary=False)
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and '--input: no file matches' in err[0] and 'nothing-here' in err[0]
  # The pipeline built without the command's check still fails the run, naming the pattern.
  from apache_beam.options.pipeline_options import PipelineOptions
  cfg = files_to_bigquery.config_from_options(PipelineOptions(argv))
  with pytest.raises(Exception, match='nothing-here'):
    with beam.Pipeline('FnApiRunner') as p:
      files_to_bigquery.build_pipeline(p, cfg)
