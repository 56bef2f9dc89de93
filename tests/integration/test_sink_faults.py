"""Fault injection at the BigQuery sink: rows BigQuery (or Beam's insertAll client) rejects
become dead letters with stage ``sink``; the run completes and nothing is lost."""

import json

import pytest

from beam_pipelines import files_to_bigquery

pytestmark = pytest.mark.emulator
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}, {'name': 'name', 'type': 'STRING'}]


def test_oversize_row_becomes_a_sink_dead_letter(tmp_path, bigquery_emulator, bq_client,
                                                 bq_dataset):
  # 9.5 MB passes ParseAndValidate (limit 10 MB) but exceeds the 9 MB insertAll payload Beam
  # allows per row: Beam hands the row back with a *string* error, not a list of errors.
  data = tmp_path / 'in.jsonl'
  with open(data, 'w', encoding='utf-8') as f:
    f.write(json.dumps({'id': 1, 'name': 'small'}) + '\n')
    f.write(json.dumps({'id': 2, 'name': 'x' * (9 * 1024 * 1024 + 512 * 1024)}) + '\n')
    f.write(json.dumps({'id': 3, 'name': 'small too'}) + '\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  _, summary = files_to_bigquery.run([
      '--input', str(data), '--schema', str(schema),
      '--output_table', f'{bq_dataset}.events',
      '--load_mode', 'append'],  # Beam's sink (a committed load fails as a whole instead)
      print_summary=False)
  rows = sorted(r['id'] for r in bq_client.query(f'SELECT id FROM {bq_dataset}.events').result())
  assert rows == [1, 3]
  dead = [dict(r) for r in bq_client.query(
      f'SELECT stage, errorType, errorMessage, LENGTH(payloadBytes) AS n '
      f'FROM {bq_dataset}.events_error_records').result()]
  assert len(dead) == 1
  assert dead[0]['stage'] == 'sink'
  assert dead[0]['errorType'] == 'bigquery_insert:row_too_large'
  assert 'exceeds the maximum insert payload size' in dead[0]['errorMessage']
  assert dead[0]['n'] == 1024 * 1024  # the payload kept is capped at 1 MiB
  assert summary['records_read'] == 3
  assert summary['rows_written'] == 2 and summary['dead_letters'] == 1
  assert summary['records_read'] == summary['rows_written'] + summary['dead_letters']


def test_schema_mismatch_with_existing_table_becomes_sink_dead_letters(
    tmp_path, bigquery_emulator, bq_client, bq_dataset):
  """The table exists with ``name INT64`` while the pipeline validates ``name STRING``: rows
  with a numeric-looking name load, the others come back from BigQuery as dead letters."""
  from google.cloud import bigquery
  bq_client.create_table(bigquery.Table(
      f'{bigquery_emulator.project}.{bq_dataset}.events',
      schema=[bigquery.SchemaField('id', 'INT64', mode='REQUIRED'),
              bigquery.SchemaField('name', 'INT64')]))
  data = tmp_path / 'in.jsonl'
  data.write_text('\n'.join(json.dumps({'id': i, 'name': str(i) if i % 2 else f'n{i}'})
                            for i in range(1, 11)) + '\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  _, summary = files_to_bigquery.run([
      '--input', str(data), '--schema', str(schema),
      '--output_table', f'{bq_dataset}.events',
      '--load_mode', 'append'],  # Beam's sink (a committed load fails as a whole instead)
      print_summary=False)
  rows = sorted(r['id'] for r in bq_client.query(f'SELECT id FROM {bq_dataset}.events').result())
  assert rows == [1, 3, 5, 7, 9]
  dead = [dict(r) for r in bq_client.query(
      f'SELECT stage, errorType, sourceId FROM {bq_dataset}.events_error_records').result()]
  assert sorted((d['stage'], d['errorType']) for d in dead) == [
      ('sink', 'bigquery_insert:invalid')] * 5
  assert summary['rows_written'] == 5 and summary['dead_letters'] == 5
  assert summary['records_read'] == summary['rows_written'] + summary['dead_letters']
