"""files_to_bigquery with --enrichment_*: the Enrich step end to end against the emulator."""

import json

import pytest

from beam_pipelines import files_to_bigquery

pytestmark = pytest.mark.emulator

SCHEMA = [
    {'name': 'id', 'type': 'INTEGER', 'mode': 'REQUIRED'},
    {'name': 'user', 'type': 'RECORD', 'fields': [
        {'name': 'country', 'type': 'STRING'}]},
]
LINES = [
    {'id': 1, 'user': {'country': 'DE'}},
    {'id': 2, 'user': {'country': 'US'}},
    {'id': 3, 'user': {'country': 'NG'}},   # not in the lookup
    {'id': 4},                              # no key
    {'name': 'no id'},                      # invalid: dead letter from validate
]
LOOKUP = 'code,region\nDE,EMEA\nUS,AMER\n'


def rows_of(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


def run(tmp_path, dataset, *extra):
  data = tmp_path / 'events.jsonl'
  data.write_text('\n'.join(json.dumps(r) for r in LINES) + '\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  lookup = tmp_path / 'regions.csv'
  lookup.write_text(LOOKUP)
  return files_to_bigquery.run([
      '--input', str(data), '--schema', str(schema),
      '--output_table', f'{dataset}.events',
      '--enrichment_source', str(lookup), '--enrichment_keys', 'user.country=code',
      '--enrichment_fields', 'region:user_region', *extra], print_summary=False)


def test_keep_policy_adds_the_column_and_keeps_misses(tmp_path, bigquery_emulator, bq_client,
                                                     bq_dataset):
  _, summary = run(tmp_path, bq_dataset)
  rows = rows_of(bq_client, f'SELECT id, user_region FROM {bq_dataset}.events ORDER BY id')
  assert rows == [{'id': 1, 'user_region': 'EMEA'}, {'id': 2, 'user_region': 'AMER'},
                  {'id': 3, 'user_region': None}, {'id': 4, 'user_region': None}]
  columns = [f.name for f in bq_client.get_table(f'{bq_dataset}.events').schema]
  assert columns == ['id', 'user', 'user_region']  # derived enriched schema
  assert summary['counters']['enrich/hits'] == 2
  assert summary['counters']['enrich/misses'] == 2
  assert summary['records_read'] == summary['rows_written'] + summary['dead_letters'] == 5


@pytest.mark.parametrize('mode', ['broadcast', 'keyed'])
def test_dead_letter_policy_flattens_enrich_dead_letters(tmp_path, bigquery_emulator,
                                                         bq_client, bq_dataset, mode):
  _, summary = run(tmp_path, bq_dataset, '--enrichment_missing', 'dead_letter',
                   '--enrichment_mode', mode)
  rows = rows_of(bq_client, f'SELECT id, user_region FROM {bq_dataset}.events ORDER BY id')
  assert rows == [{'id': 1, 'user_region': 'EMEA'}, {'id': 2, 'user_region': 'AMER'}]
  dead = rows_of(bq_client, f'SELECT stage, errorType, payloadString '
                            f'FROM {bq_dataset}.events_error_records')
  enrich_dead = sorted((d['errorType'], json.loads(d['payloadString'])['id'])
                       for d in dead if d['stage'] == 'enrich')
  assert enrich_dead == [('enrichment_miss', 3), ('enrichment_miss', 4)]
  assert len(dead) == 3  # + the validation failure
  assert summary['records_read'] == len(rows) + len(dead) == 5


def test_drop_policy_keeps_the_invariant_with_the_counter(tmp_path, bigquery_emulator,
                                                          bq_client, bq_dataset):
  _, summary = run(tmp_path, bq_dataset, '--enrichment_missing', 'drop')
  written = rows_of(bq_client, f'SELECT COUNT(*) AS n FROM {bq_dataset}.events')[0]['n']
  dropped = summary['counters']['enrich/dropped']
  assert (written, dropped, summary['dead_letters']) == (2, 2, 1)
  assert summary['records_read'] == written + summary['dead_letters'] + dropped


def test_bad_enrichment_option_exits_2_naming_it(tmp_path, capsys):
  with pytest.raises(SystemExit) as info:
    files_to_bigquery.run(['--input', 'x', '--schema', json.dumps(SCHEMA),
                           '--output_table', 'my-project:d.t',
                           '--enrichment_source', 'r.csv', '--enrichment_keys', 'k',
                           '--enrichment_fields', 'v', '--enrichment_missing', 'ignore'])
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and '--enrichment_missing' in err[0]
