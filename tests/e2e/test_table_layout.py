"""Table layout and retention options against the BigQuery emulator: every table a run
creates (rows, dead letters, aggregates, quality scores; the CDC replica and its dead
letters) gets its partitioning, clustering and expiration; an existing table is left as it
is, with a warning; a pipeline's config carries the layout of each of its tables."""

import json
import logging
import os

import pytest

from beam_pipelines import cdc_to_bigquery, files_to_bigquery, pubsub_to_bigquery

pytestmark = pytest.mark.emulator
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'kind', 'type': 'STRING'}, {'name': 'ts', 'type': 'TIMESTAMP'},
          {'name': 'day', 'type': 'DATE'}]
DAY_MS = 86400 * 1000


@pytest.fixture
def inputs(tmp_path):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  rules = tmp_path / 'rules.yaml'
  rules.write_text('rules:\n  - {id: kind_set, kind: not_null, path: kind}\n')
  data = tmp_path / 'in.jsonl'
  data.write_text(''.join(json.dumps({'id': i, 'kind': 'k%d' % (i % 2), 'day': '2026-01-0%d' % (
      i % 3 + 1), 'ts': '2026-01-0%dT10:00:00Z' % (i % 3 + 1)}) + '\n' for i in range(6))
                  + '{"id": "not a number"}\n')
  return {'schema': str(schema), 'rules': str(rules), 'data': str(data)}


def layout(client, table):
  t = client.get_table(table)
  p = t.time_partitioning
  return (p and (p.field, p.type_, p.expiration_ms), t.clustering_fields)


def test_every_table_of_a_run_gets_its_layout(inputs, bigquery_emulator, bq_client, bq_dataset):
  _, summary = files_to_bigquery.run([
      '--input', inputs['data'], '--schema', inputs['schema'],
      '--output_table', f'{bq_dataset}.events', '--partition_field', 'ts',
      '--partition_granularity', 'HOUR', '--clustering_fields', 'kind,id',
      '--partition_expiration_days', '400', '--dead_letter_retention_days', '30',
      '--window', 'fixed', '--window_size', '1h', '--event_time_field', 'ts',
      '--aggregate_keys', 'kind', '--quality_rules', inputs['rules']], print_summary=False)
  assert (summary['rows_written'], summary['dead_letters']) == (6, 1)
  assert layout(bq_client, f'{bq_dataset}.events') == (
      ('ts', 'HOUR', 400 * DAY_MS), ['kind', 'id'])
  assert layout(bq_client, f'{bq_dataset}.events_error_records') == (
      ('timestamp', 'DAY', 30 * DAY_MS), ['errorType'])
  assert layout(bq_client, f'{bq_dataset}.events_aggregates') == (
      ('window_start', 'HOUR', 400 * DAY_MS), ['kind'])
  assert layout(bq_client, f'{bq_dataset}.events_quality') == (
      ('window_start', 'HOUR', 400 * DAY_MS), None)
  # the rows are where a query by partition finds them
  rows = bq_client.query(f'SELECT COUNT(*) AS n FROM {bq_dataset}.events '
                         "WHERE DATE(ts) = '2026-01-02'").result()
  assert [r.n for r in rows] == [2]


def test_without_layout_options_tables_are_not_partitioned(inputs, bigquery_emulator, bq_client,
                                                           bq_dataset):
  files_to_bigquery.run(['--input', inputs['data'], '--schema', inputs['schema'],
                         '--output_table', f'{bq_dataset}.events'], print_summary=False)
  assert layout(bq_client, f'{bq_dataset}.events') == (None, None)
  assert layout(bq_client, f'{bq_dataset}.events_error_records') == (None, None)


def test_an_existing_table_keeps_its_layout_and_a_warning_says_so(
    inputs, bigquery_emulator, bq_client, bq_dataset, caplog):
  bq_client.query(f'CREATE TABLE {bq_dataset}.events (id INT64 NOT NULL, kind STRING, '
                  'ts TIMESTAMP, day DATE)').result()
  with caplog.at_level(logging.WARNING):
    _, summary = files_to_bigquery.run([
        '--input', inputs['data'], '--schema', inputs['schema'],
        '--output_table', f'{bq_dataset}.events', '--partition_field', 'day'],
        print_summary=False)
  assert summary['rows_written'] == 6
  assert layout(bq_client, f'{bq_dataset}.events') == (None, None)
  warned = [r.getMessage() for r in caplog.records if 'another layout' in r.getMessage()]
  assert len(warned) == 1 and 'events exists' in warned[0] and 'not partitioned' in warned[0]
  # the dead-letter table did not exist: it is created partitioned
  assert layout(bq_client, f'{bq_dataset}.events_error_records')[0][:2] == ('timestamp', 'DAY')


def test_ingestion_time_partitions(inputs, bigquery_emulator, bq_client, bq_dataset):
  files_to_bigquery.run(['--input', inputs['data'], '--schema', inputs['schema'],
                         '--output_table', f'{bq_dataset}.events', '--partition_field',
                         '_PARTITIONTIME', '--partition_granularity', 'MONTH'],
                        print_summary=False)
  assert layout(bq_client, f'{bq_dataset}.events') == ((None, 'MONTH', None), None)


def test_the_cdc_replica_and_its_dead_letters_get_their_layout(monkeypatch, bigquery_emulator,
                                                              bq_client, bq_dataset, tmp_path):
  monkeypatch.chdir(REPO)
  cdc_to_bigquery.run([
      '--input', 'examples/cdc/changes.jsonl', '--schema', 'examples/cdc/customers_schema.json',
      '--primary_key', 'id', '--output_table', f'{bq_dataset}.customers',
      '--temp_location', str(tmp_path), '--partition_field', '_cdc_source_ts',
      '--clustering_fields', 'tier', '--dead_letter_retention_days', '14'],
      print_summary=False)
  assert layout(bq_client, f'{bq_dataset}.customers') == (
      ('_cdc_source_ts', 'DAY', None), ['tier'])
  assert layout(bq_client, f'{bq_dataset}.customers_error_records') == (
      ('timestamp', 'DAY', 14 * DAY_MS), ['errorType'])
  # the change log stays clustered by key, never partitioned nor expired
  assert layout(bq_client, f'{bq_dataset}.customers_changelog') == (None, ['_cdc_key'])


def test_streaming_config_carries_the_layouts(inputs):
  _, cfg = pubsub_to_bigquery.pipeline_options([
      '--input_subscription', 'projects/test-project/subscriptions/s',
      '--schema', inputs['schema'], '--output_table', 'ds.events', '--partition_field', 'day',
      '--partition_granularity', 'MONTH', '--dead_letter_retention_days', '3'])
  assert (cfg.sink.layout.partition_field, cfg.sink.layout.partition_granularity) == (
      'day', 'MONTH')
  assert cfg.dead_letters.layout.partition_expiration_days == 3


@pytest.mark.parametrize('argv, option', [
    (['--partition_expiration_days', '30'], '--partition_expiration_days'),
    (['--partition_field', 'name'], '--partition_field'),
])
def test_cdc_layout_errors_name_the_option(argv, option, capsys, tmp_path, monkeypatch):
  monkeypatch.chdir(REPO)
  with pytest.raises(SystemExit) as info:
    cdc_to_bigquery.run(['--input', 'examples/cdc/changes.jsonl', '--schema',
                         'examples/cdc/customers_schema.json', '--primary_key', 'id',
                         '--output_table', 'ds.customers', '--temp_location', str(tmp_path)]
                        + argv)
  assert info.value.code == 2
  assert option in capsys.readouterr().err
