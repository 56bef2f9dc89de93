"""python -m beam_pipelines.forget against the BigQuery emulator: dry run, --execute,
pseudonymised subject ids, errors."""

import json
import os

import pytest

from beam_pipelines import files_to_bigquery, forget
from beam_pipelines.transforms.validate.validator import RecordValidator

pytestmark = pytest.mark.emulator
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def count(client, sql):
  return list(client.query(sql).result())[0]['n']


@pytest.fixture
def two_tables(bq_client, bq_dataset):
  bq_client.query(f'CREATE TABLE {bq_dataset}.events (user STRUCT<id STRING, email STRING>, '
                  f'n INT64)').result()
  bq_client.query(f'CREATE TABLE {bq_dataset}.sessions (user STRUCT<id STRING>, '
                  f'minutes INT64)').result()
  bq_client.query(
      f"INSERT INTO {bq_dataset}.events (user, n) VALUES "
      f"(STRUCT('u-forget' AS id, 'f@example.com' AS email), 1), "
      f"(STRUCT('u-keep', 'k@example.com'), 2), (STRUCT('u-forget', 'f2@example.com'), 3), "
      f"(STRUCT('u-other', 'o@example.com'), 4)").result()
  bq_client.query(f"INSERT INTO {bq_dataset}.sessions (user, minutes) VALUES "
                  f"(STRUCT('u-forget' AS id), 10), (STRUCT('u-keep'), 20)").result()
  return [f'{bq_dataset}.events', f'{bq_dataset}.sessions']


def test_dry_run_counts_and_deletes_nothing(bq_client, bq_dataset, two_tables, capsys):
  code = forget.main(['--subject_field', 'user.id', '--subject', 'u-forget',
                      '--subject', 'u-other', '--tables'] + two_tables)
  out = capsys.readouterr().out
  assert code == 0
  assert 'forget (dry run): 2 subject(s) in user.id, 2 table(s)' in out
  assert f'test-project.{bq_dataset}.events' in out and '3 rows would be deleted' in out
  assert '1 rows would be deleted' in out
  assert 'Re-run with --execute to delete 4 rows' in out
  assert 'u-forget' not in out and 'u-other' not in out  # subject ids are never printed
  assert count(bq_client, f'SELECT COUNT(*) AS n FROM {bq_dataset}.events') == 4
  assert count(bq_client, f'SELECT COUNT(*) AS n FROM {bq_dataset}.sessions') == 2


def test_execute_deletes_only_the_subjects_rows(bq_client, bq_dataset, two_tables, capsys,
                                                tmp_path):
  subjects = tmp_path / 'subjects.txt'
  subjects.write_text('# erase requests\nu-forget\n')
  code = forget.main(['--subject_field', 'user.id', '--subjects_file', str(subjects),
                      '--execute', '--tables'] + two_tables)
  out = capsys.readouterr().out
  assert code == 0, out
  assert '2 rows deleted, 0 matching rows left' in out and '1 rows deleted' in out
  assert 'Deleted 3 rows; 0 matching rows left' in out
  left = [dict(r.items()) for r in bq_client.query(
      f'SELECT user.id AS id FROM {bq_dataset}.events ORDER BY id').result()]
  assert left == [{'id': 'u-keep'}, {'id': 'u-other'}]
  assert count(bq_client, f"SELECT COUNT(*) AS n FROM {bq_dataset}.sessions "
                          f"WHERE user.id = 'u-keep'") == 1
  assert count(bq_client, f'SELECT COUNT(*) AS n FROM {bq_dataset}.sessions') == 1


def test_pseudonymised_subject_ids_are_matched_with_the_policy_and_key(
    tmp_path, bigquery_emulator, bq_client, bq_dataset, monkeypatch, capsys):
  monkeypatch.setenv('FORGET_TEST_KEY', 'forget-test-key-0123456789abcdef')
  schema = os.path.join(REPO, 'samples', 'events_schema.json')
  policy = os.path.join(REPO, 'samples', 'masking_policy.yaml')
  lines = open(os.path.join(REPO, 'samples', 'events.jsonl'), 'rb').read().splitlines()[:60]
  (tmp_path / 'in.jsonl').write_bytes(b'\n'.join(lines) + b'\n')
  subject = json.loads(lines[0])['user']['id']
  validator = RecordValidator(schema)
  raw_count = 0
  for line in lines:  # the subject's records that pass validation (the others dead-letter)
    try:
      row, problems = validator.validate(json.loads(line))
    except ValueError:
      continue
    raw_count += bool(not problems and row['user']['id'] == subject)
  files_to_bigquery.run(['--input', str(tmp_path / 'in.jsonl'), '--schema', schema,
                         '--output_table', f'{bq_dataset}.events', '--masking_policy', policy,
                         '--masking_key_source', 'env:FORGET_TEST_KEY'], print_summary=False)
  capsys.readouterr()
  table = f'{bq_dataset}.events'
  # The raw id is not in the table (it is pseudonymised): matching it finds nothing.
  assert forget.main(['--subject_field', 'user.id', '--subject', subject, '--tables', table]) == 0
  assert '0 rows would be deleted' in capsys.readouterr().out
  argv = ['--subject_field', 'user.id', '--subject', subject, '--tables', table,
          '--masking_policy', policy, '--schema', schema,
          '--masking_key_source', 'env:FORGET_TEST_KEY']
  before = count(bq_client, f'SELECT COUNT(*) AS n FROM {table}')
  assert forget.main(argv + ['--execute']) == 0
  out = capsys.readouterr().out
  assert f'{raw_count} rows deleted, 0 matching rows left' in out and raw_count >= 1
  assert count(bq_client, f'SELECT COUNT(*) AS n FROM {table}') == before - raw_count


@pytest.mark.parametrize('argv,code,message', [
    (['--subject_field', 'user.id', '--tables', 'ds.t'], 2, 'give at least one --subject'),
    (['--subject_field', 'user.id; DROP', '--subject', 'x', '--tables', '{ds}.events'], 1,
     'is not a dotted column path'),
    (['--subject_field', 'user.id', '--subject', 'x', '--tables', 'not a table'], 2,
     'is not a valid table spec'),
    (['--subject_field', 'user.id', '--subject', 'x', '--masking_policy', 'p.yaml',
      '--tables', 'ds.t'], 2, '--masking_policy needs --schema and --masking_key_source'),
    (['--subject_field', 'user.id', '--subject', 'x', '--tables', '{ds}.missing'], 1,
     '{ds}.missing: NotFound'),
])
def test_errors(bq_client, bq_dataset, two_tables, capsys, argv, code, message):
  argv = [a.replace('{ds}', bq_dataset) for a in argv]
  assert forget.main(argv) == code
  assert message.replace('{ds}', bq_dataset) in capsys.readouterr().err


def test_dead_letter_tables_are_matched_on_the_masked_payload(tmp_path, bigquery_emulator,
                                                              bq_client, bq_dataset,
                                                              monkeypatch, capsys):
  monkeypatch.setenv('FORGET_TEST_KEY', 'forget-test-key-0123456789abcdef')
  schema = [{'name': 'user', 'type': 'RECORD', 'mode': 'REQUIRED', 'fields': [
      {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'}]}, {'name': 'n', 'type': 'INT64'}]
  (tmp_path / 'schema.json').write_text(json.dumps(schema))
  (tmp_path / 'policy.yaml').write_text('default: drop\nfields:\n  user.id: hmac\n  n: keep\n')
  records = [{'user': {'id': 'u-forget'}, 'n': 1}, {'user': {'id': 'u-keep'}, 'n': 2},
             {'user': {'id': 'u-forget'}, 'n': 'three'}, {'user': {'id': 'u-keep'}, 'n': 'x'},
             {'user': {'id': 'u-forget-not'}, 'n': 'y'}]
  (tmp_path / 'in.jsonl').write_text('\n'.join(json.dumps(r) for r in records) + '\n')
  files_to_bigquery.run(['--input', str(tmp_path / 'in.jsonl'),
                         '--schema', str(tmp_path / 'schema.json'),
                         '--output_table', f'{bq_dataset}.events',
                         '--masking_policy', str(tmp_path / 'policy.yaml'),
                         '--masking_key_source', 'env:FORGET_TEST_KEY'], print_summary=False)
  errors = f'{bq_dataset}.events_error_records'
  assert count(bq_client, f'SELECT COUNT(*) AS n FROM {errors}') == 3
  capsys.readouterr()
  assert forget.main(['--subject_field', 'user.id', '--subject', 'u-forget',
                      '--tables', f'{bq_dataset}.events', '--dead_letter_tables', errors,
                      '--masking_policy', str(tmp_path / 'policy.yaml'),
                      '--schema', str(tmp_path / 'schema.json'),
                      '--masking_key_source', 'env:FORGET_TEST_KEY', '--execute']) == 0
  out = capsys.readouterr().out
  assert '1 table(s), 1 dead-letter table(s)' in out
  assert out.count('1 rows deleted, 0 matching rows left') == 2
  assert [r['n'] for r in bq_client.query(f'SELECT n FROM {bq_dataset}.events').result()] == [2]
  # the dead letters of u-keep and u-forget-not remain
  assert count(bq_client, f'SELECT COUNT(*) AS n FROM {errors}') == 2
