"""Every BigQuery table a run writes exists from its start, with its schema: a run with no
failure still has its ``<table>_error_records`` (and aggregates) table, a streaming run has
its tables before the first message; CREATE_NEVER adds no create step; a Dataflow dry run
builds the create step without running it."""

import json
import time

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from streaming_helpers import wait_for

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery
from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_FIELDS

pytestmark = pytest.mark.emulator
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'kind', 'type': 'STRING'}, {'name': 'ts', 'type': 'TIMESTAMP'}]


def schema_file(tmp_path):
  path = tmp_path / 'schema.json'
  path.write_text(json.dumps(SCHEMA))
  return str(path)


def tables(client, dataset):
  return {t.table_id for t in client.list_tables(dataset)}


def test_a_run_without_failures_has_its_dead_letter_and_aggregate_tables(
    tmp_path, bigquery_emulator, bq_client, bq_dataset):
  data = tmp_path / 'in.jsonl'
  data.write_text(''.join(json.dumps({'id': i, 'kind': 'k', 'ts': '2026-01-01T00:00:00Z'})
                          + '\n' for i in range(3)))
  _, summary = files_to_bigquery.run([
      '--input', str(data), '--schema', schema_file(tmp_path),
      '--output_table', f'{bq_dataset}.events', '--window', 'fixed', '--window_size', '1m',
      '--event_time_field', 'ts', '--aggregate_keys', 'kind',
      '--aggregate_table', f'{bq_dataset}.per_minute'], print_summary=False)
  assert summary['dead_letters'] == 0 and summary['rows_written'] == 3
  assert tables(bq_client, bq_dataset) == {'events', 'events_error_records', 'per_minute',
                                           'events_loads'}  # the load manifest
  errors = bq_client.get_table(f'{bq_dataset}.events_error_records')
  assert [(f.name, f.field_type, f.mode) for f in errors.schema] == [
      (f['name'], f['type'], f['mode']) for f in DEAD_LETTER_FIELDS]
  assert errors.num_rows == 0
  # (That the tables get the schema exactly as loaded is checked with RANGE columns in
  # test_range_interval_to_bigquery: the emulator keeps rangeElementType but drops NUMERIC
  # precision/scale and maxLength, whoever creates the table.)


def test_create_never_adds_no_create_step():
  """CREATE_NEVER is the disposition for tables that must exist already: no create step."""
  from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig, WriteRowsToBigQuery
  class Visitor(beam.pipeline.PipelineVisitor):
    def __init__(self):
      self.found = set()

    def visit_transform(self, node):
      if 'CreateTable' in node.full_label:
        self.found.add(node.full_label)

  labels = {}
  for disposition in ('CREATE_IF_NEEDED', 'CREATE_NEVER'):
    p = beam.Pipeline('FnApiRunner')
    _ = p | beam.Create([{'id': 1}]) | 'Write' >> WriteRowsToBigQuery(
        SCHEMA, BigQuerySinkConfig('ds.t', create_disposition=disposition))
    visitor = Visitor()
    p.visit(visitor)
    labels[disposition] = visitor.found
  assert labels == {'CREATE_IF_NEEDED': {'Write/CreateTable/Impulse', 'Write/CreateTable/Create'},
                    'CREATE_NEVER': set()}


def test_a_streaming_run_has_its_tables_before_the_first_message(
    tmp_path, bigquery_emulator, bq_client, bq_dataset, pubsub_topic):
  _, subscription = pubsub_topic
  started = time.monotonic()
  running = pubsub_to_bigquery.start([
      '--input_subscription', subscription, '--schema', schema_file(tmp_path),
      '--output_table', f'{bq_dataset}.events', '--pubsub_pull_timeout', '0.5s'])
  try:
    seen = wait_for(lambda: tables(bq_client, bq_dataset),
                    lambda t: t == {'events', 'events_error_records'}, timeout=30)
  finally:
    running.cancel()
  assert seen == {'events', 'events_error_records'}, seen
  assert running.counters().get(('read', 'records'), 0) == 0  # nothing was published
  print(f'tables visible {time.monotonic() - started:.1f} s after start')


def test_a_dataflow_dry_run_builds_the_step_and_creates_nothing(
    tmp_path, bigquery_emulator, bq_client, bq_dataset):
  options = PipelineOptions([
      '--input', 'gs://bucket-name/in/*.jsonl', '--schema', schema_file(tmp_path),
      '--output_table', f'{bigquery_emulator.project}:{bq_dataset}.events',
      '--runner=DataflowRunner', '--dry_run=True', '--project', bigquery_emulator.project,
      '--region=europe-west1', '--temp_location=gs://bucket-name/tmp'])
  cfg = files_to_bigquery.config_from_options(options)
  p = beam.Pipeline(options=options)
  files_to_bigquery.build_pipeline(p, cfg)
  job = p.run().job
  names = {t.unique_name for t in job.proto_pipeline.components.transforms.values()}
  assert {'WriteRows/CreateTable/Create', 'WriteDeadLetters/WriteTable/WriteRowsToBigQuery/'
          'CreateTable/Create'} & names, sorted(n for n in names if 'CreateTable' in n)
  assert tables(bq_client, bq_dataset) == set()


def test_create_errors_name_the_table_or_respect_the_retry_budget(
    bigquery_emulator, bq_dataset, monkeypatch):
  """BigQuery refusing the table fails at once naming it; BigQuery unreachable (a closed
  loopback port) is retried for the sink's retry budget, or, with none, for the step's
  deadline (shortened here) after which the sink's own CREATE_IF_NEEDED takes over."""
  from beam_pipelines.transforms.write import create_table
  from beam_pipelines.transforms.write.retry_budget import RetryBudgetExceeded
  fields = {'fields': SCHEMA}
  # A RANGE column without its element type: BigQuery (and the emulator) answer 400. (A
  # missing dataset would be a 404 on BigQuery; the emulator answers 500 there.)
  with pytest.raises(RuntimeError, match=f'cannot create BigQuery table {bq_dataset}.bad: '
                                         'BadRequest: 400 .*rangeElementType'):
    create_table.create_table_if_needed(f'{bq_dataset}.bad', {'fields': [
        {'name': 'r', 'type': 'RANGE'}]})
  assert create_table.create_table_if_needed(f'{bq_dataset}.made', fields) is True
  assert create_table.create_table_if_needed(f'{bq_dataset}.made', fields) is True  # exists
  monkeypatch.setenv('BIGQUERY_EMULATOR_HOST', 'http://127.0.0.1:9')
  started = time.monotonic()
  with pytest.raises(RetryBudgetExceeded, match=r'retry budget of 1 s'):
    create_table.create_table_if_needed(f'{bq_dataset}.t2', fields, retry_budget_seconds=1)
  assert time.monotonic() - started < 15
  monkeypatch.setattr(create_table, 'DEFAULT_DEADLINE_SECONDS', 1.0)
  assert create_table.create_table_if_needed(f'{bq_dataset}.t2', fields) is False
