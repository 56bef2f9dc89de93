"""cdc_to_bigquery through the suite's chain pieces (masking with a hashed primary key,
enrichment) and with the datastream and generic formats, against the BigQuery emulator."""

import json

import pytest

from beam_pipelines import cdc_to_bigquery

from cdc_events import datastream_raw, debezium, generic, postgres_source

pytestmark = pytest.mark.emulator
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'email', 'type': 'STRING'}, {'name': 'country', 'type': 'STRING'},
          {'name': 'seq', 'type': 'INT64'}]
POLICY = 'version: 1\ndefault: keep\nfields:\n  id: hmac\n  email: redact\n'
LOOKUP = 'code,region\nDE,EMEA\nUS,AMER\n'


def rows(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


def write(tmp_path, name, lines):
  path = tmp_path / name
  path.write_text('\n'.join(lines) + '\n')
  return str(path)


def base_argv(tmp_path, dataset, input_path, *extra):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return ['--input', input_path, '--schema', str(schema), '--primary_key', 'id',
          '--output_table', f'{dataset}.people', '--temp_location', str(tmp_path / 'tmp'),
          *extra]


def test_masked_key_still_matches_deletes_and_enrichment_fills_rows(
    tmp_path, monkeypatch, bigquery_emulator, bq_client, bq_dataset):
  monkeypatch.setenv('CDC_TEST_MASKING_KEY', 'cdc-test-key-0123456789abcdef')
  policy = tmp_path / 'policy.yaml'
  policy.write_text(POLICY)
  lookup = tmp_path / 'regions.csv'
  lookup.write_text(LOOKUP)
  changes = write(tmp_path, 'changes.jsonl', [
      debezium('c', after={'id': 1, 'email': 'ada@example.com', 'country': 'DE'},
               source=postgres_source(1000, 10)),
      debezium('c', after={'id': 2, 'email': 'bob@example.com', 'country': 'US'},
               source=postgres_source(1000, 11)),
      debezium('d', source=postgres_source(2000, 20), key={'id': 2}),  # key only
      debezium('u', after={'id': 1, 'email': 'ada@example.org', 'country': 'NG'},
               source=postgres_source(3000, 30)),
      debezium('u', after={'id': 3, 'email': 12}, source=postgres_source(3000, 31)),  # bad
  ])
  argv = base_argv(tmp_path, bq_dataset, changes, '--history_table',
                   f'{bq_dataset}.people_history', '--masking_policy', str(policy),
                   '--masking_key_source', 'env:CDC_TEST_MASKING_KEY',
                   '--enrichment_source', str(lookup), '--enrichment_keys', 'country=code',
                   '--enrichment_fields', 'region')
  _, summary = cdc_to_bigquery.run(argv, print_summary=False)
  replica = rows(bq_client, f'SELECT * FROM {bq_dataset}.people')
  assert len(replica) == 1  # 2 was deleted through its hashed key
  (row,) = replica
  assert row['id'] not in (1, '1') and len(row['id']) > 20  # hmac, a STRING column now
  assert row['email'] == '[REDACTED]' and row['country'] == 'NG' and row['region'] is None
  history = rows(bq_client, f'SELECT id, region, is_current FROM {bq_dataset}.people_history '
                            'ORDER BY _cdc_order')
  assert [(h['region'], h['is_current']) for h in history] == [
      ('EMEA', False), ('AMER', False), (None, True)]
  assert history[0]['id'] == row['id'] and history[1]['id'] != row['id']
  log = rows(bq_client, f'SELECT TO_JSON_STRING(t) AS j FROM {bq_dataset}.people_changelog t')
  assert not any('example.' in r['j'] for r in log)  # no clear e-mail in the change log
  (dead,) = rows(bq_client, f'SELECT errorType, payloadString FROM '
                            f'{bq_dataset}.people_error_records')
  assert dead['errorType'] == 'type_mismatch:email'
  payload = json.loads(dead['payloadString'])
  assert payload['after']['email'] == '[REDACTED]' and payload['after']['id'] != 3
  assert summary['counting_invariant']['holds']


def test_datastream_records_replicate(tmp_path, bigquery_emulator, bq_client, bq_dataset):
  pos = {'log_file': 'mysql-bin.000001'}
  changes = write(tmp_path, 'ds.jsonl', [
      datastream_raw({'id': 1, 'email': 'a', 'country': 'DE'}, 1000, backfill=True, **pos,
                     log_position=1),
      datastream_raw({'id': 1, 'email': 'b', 'country': 'DE'}, 3000,
                     change_type='UPDATE-INSERT', **pos, log_position=30),
      datastream_raw({'id': 1, 'email': 'late', 'country': 'DE'}, 2000,
                     change_type='UPDATE-INSERT', **pos, log_position=20),
      datastream_raw({'id': 2, 'email': 'x', 'country': 'US'}, 1000, **pos, log_position=2),
      datastream_raw({'id': 2, 'email': 'x', 'country': 'US'}, 4000, change_type='DELETE',
                     is_deleted=True, **pos, log_position=40),
  ])
  argv = base_argv(tmp_path, bq_dataset, changes, '--cdc_format', 'datastream',
                   '--history_table', f'{bq_dataset}.people_history')
  _, summary = cdc_to_bigquery.run(argv, print_summary=False)
  assert rows(bq_client, f'SELECT id, email FROM {bq_dataset}.people') == [
      {'id': 1, 'email': 'b'}]
  versions = rows(bq_client, f'SELECT email FROM {bq_dataset}.people_history WHERE id = 1 '
                             'ORDER BY valid_from')
  assert [v['email'] for v in versions] == ['a', 'late', 'b']
  assert summary['cdc']['changes_by_op'] == {'c': 1, 'r': 1, 'u': 2, 'd': 1, 't': 0}


def test_generic_rows_replicate_with_sequence_fields(tmp_path, bigquery_emulator, bq_client,
                                                      bq_dataset):
  changes = write(tmp_path, 'generic.jsonl', [
      generic('insert', {'id': 1, 'email': 'a'}, 1, seq_field='seq'),
      generic('update', {'id': 1, 'email': 'c'}, 3, seq_field='seq'),
      generic('update', {'id': 1, 'email': 'b'}, 2, seq_field='seq'),
      generic('delete', {'id': 2}, 5, seq_field='seq'),
      generic('insert', {'id': 2, 'email': 'old'}, 4, seq_field='seq'),
      generic('upsert', {'id': 3, 'email': 'z'}, 1, seq_field='seq'),
  ])
  argv = base_argv(tmp_path, bq_dataset, changes, '--cdc_format', 'generic', '--op_field',
                   'op', '--sequence_fields', 'seq')
  cdc_to_bigquery.run(argv, print_summary=False)
  assert rows(bq_client, f'SELECT id, email, seq FROM {bq_dataset}.people ORDER BY id') == [
      {'id': 1, 'email': 'c', 'seq': 3}, {'id': 3, 'email': 'z', 'seq': 1}]
