"""Dead-letter sinks against the emulators: Pub/Sub (batch), windowed files (streaming), and
rows BigQuery itself rejects mapped to stage ``sink``."""

import glob
import json
import os

import apache_beam as beam
import pytest
from pubsub_pull import pull_messages
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms import window

from beam_pipelines.transforms.core.dead_letter import make_dead_letter
from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig, WriteRowsToBigQuery
from beam_pipelines.transforms.write.dead_letters import DeadLetterSinkConfig, WriteDeadLetters

pytestmark = pytest.mark.emulator


def dead_letters(n, prefix='f.jsonl'):
  return [make_dead_letter(f'{{"id": {i}}}'.encode(), stage='validate',
                           error_type=f'type_mismatch:f{i % 2}', message=f'bad {i}',
                           source_id=f'{prefix}:{i}', attributes={'file': prefix, 'k': str(i)},
                           pipeline='p', now=1767225600 + i)
          for i in range(n)]


def test_pubsub_dead_letter_sink_publishes_json_with_attributes(pubsub_emulator, pubsub_topic):
  topic, subscription = pubsub_topic
  records = dead_letters(5)
  with beam.Pipeline(runner='FnApiRunner') as p:
    _ = (p | beam.Create(records)
         | WriteDeadLetters(DeadLetterSinkConfig(kind='pubsub', topic=topic)))
  messages = pull_messages(subscription, 5)
  assert len(messages) == 5
  by_source = {m.attributes['sourceId']: m for m in messages}
  for record in records:
    message = by_source[record['sourceId']]
    assert json.loads(message.data.decode('utf-8')) == record
    assert dict(message.attributes) == {'errorType': record['errorType'],
                                        'stage': 'validate', 'sourceId': record['sourceId']}


def test_pubsub_sink_config_errors():
  with pytest.raises(ValueError, match='dead_letter_topic is required'):
    DeadLetterSinkConfig(kind='pubsub')
  with pytest.raises(ValueError, match='projects/PROJECT/topics/TOPIC'):
    DeadLetterSinkConfig(kind='pubsub', topic='my-topic')


def test_files_sink_in_streaming_writes_one_set_of_files_per_window(tmp_path):
  records = dead_letters(4)
  # Event times: two records in [0, 60) and two in [60, 120).
  stream = TestStream()
  for i, record in enumerate(records):
    stream = stream.add_elements([window.TimestampedValue(record, 10 + 30 * i)])
  stream = stream.advance_watermark_to_infinity()
  options = PipelineOptions(runner='BundleBasedDirectRunner')
  options.view_as(StandardOptions).streaming = True
  prefix = str(tmp_path / 'dead' / 'errors')
  os.makedirs(os.path.dirname(prefix))
  with beam.Pipeline(options=options) as p:
    _ = (p | stream
         | WriteDeadLetters(DeadLetterSinkConfig(kind='files', path=prefix,
                                                 window_seconds=60)))
  files = sorted(glob.glob(prefix + '-*.jsonl'))
  by_window = {}
  for path in files:  # errors-<window start>-<window end>-<shard>-of-<n>.jsonl
    window_name = os.path.basename(path)[len('errors-'):len('errors-') + 39]
    with open(path, encoding='utf-8') as f:
      by_window.setdefault(window_name, []).extend(json.loads(line) for line in f)
  assert {k: sorted(r['sourceId'] for r in v) for k, v in by_window.items()} == {
      '1970-01-01T00:00:00-1970-01-01T00:01:00': ['f.jsonl:0', 'f.jsonl:1'],
      '1970-01-01T00:01:00-1970-01-01T00:02:00': ['f.jsonl:2', 'f.jsonl:3']}
  assert by_window['1970-01-01T00:00:00-1970-01-01T00:01:00'][0]['errorMessage'] in (
      'bad 0', 'bad 1')


def test_rows_bigquery_rejects_become_sink_dead_letters(tmp_path, bigquery_emulator,
                                                        bq_client, bq_dataset):
  from google.cloud import bigquery
  # The table exists with amount INT64; the pipeline validated against amount STRING.
  table = f'{bigquery_emulator.project}.{bq_dataset}.t'
  bq_client.create_table(bigquery.Table(table, schema=[
      bigquery.SchemaField('id', 'INT64', mode='REQUIRED'),
      bigquery.SchemaField('amount', 'INT64')]))
  out = str(tmp_path / 'dead')
  with beam.Pipeline(runner='FnApiRunner') as p:
    failed = (p | beam.Create([{'id': 1, 'amount': '12'}, {'id': 2, 'amount': 'abc'}])
              | WriteRowsToBigQuery(
                  [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
                   {'name': 'amount', 'type': 'STRING'}],
                  BigQuerySinkConfig(table.replace('.', ':', 1),
                                     create_disposition='CREATE_NEVER'),
                  pipeline_name='sink-test'))
    _ = failed | beam.Map(json.dumps) | beam.io.WriteToText(out)
  dead = [json.loads(line) for path in glob.glob(out + '*') for line in open(path)]
  assert len(dead) == 1
  record = dead[0]
  assert record['stage'] == 'sink' and record['errorType'] == 'bigquery_insert:invalid'
  assert json.loads(record['payloadString']) == {'id': 2, 'amount': 'abc'}
  assert record['pipeline'] == 'sink-test' and table.split('.', 1)[1] in record['errorMessage']
  rows = [dict(r) for r in bq_client.query(f'SELECT * FROM {bq_dataset}.t').result()]
  assert rows == [{'id': 1, 'amount': 12}]
