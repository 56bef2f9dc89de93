"""The Pub/Sub source: config validation, per-runner de-dup and timestamp handling (the
DirectRunner pull wrapper is tested in test_pubsub_direct_pull.py)."""

import apache_beam as beam
import pytest

from beam_pipelines import pubsub_to_bigquery
from beam_pipelines.transforms.read.events import READERS, ReadEvents
from beam_pipelines.transforms.read.pubsub import PubSubSourceConfig, parse_timestamp_attribute

SUB = 'projects/my-project/subscriptions/events'
ARGS = ['--input_subscription', SUB, '--schema', 'samples/events_schema.json',
        '--output_table', 'my-project:analytics.events', '--id_attribute', 'event_id',
        '--timestamp_attribute', 'ts']


def test_registered_in_read_events():
  assert READERS[PubSubSourceConfig].__name__ == 'ReadPubSub'
  ReadEvents(PubSubSourceConfig(subscription=SUB))


@pytest.mark.parametrize('kwargs, message', [
    ({}, 'exactly one of subscription and topic'),
    ({'subscription': SUB, 'topic': 'projects/p/topics/t'}, 'exactly one'),
    ({'topic': 'events'}, 'topic must look like'),
    ({'subscription': SUB, 'dedupe': 'sometimes'}, 'dedupe must be one of'),
    ({'subscription': SUB, 'direct_runner_pull_timeout': 60}, 'direct_runner_pull_timeout'),
    ({'subscription': SUB, 'direct_runner_pull_grace': 0}, 'direct_runner_pull_grace'),
    ({'subscription': SUB, 'id_attribute': ''}, 'id_attribute'),
])
def test_config_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    PubSubSourceConfig(**kwargs)


@pytest.mark.parametrize('text, seconds', [
    ('1764158400000', 1764158400.0), ('2025-11-26T12:00:00Z', 1764158400.0),
    ('2025-11-26T12:00:00.250Z', 1764158400.25)])
def test_timestamp_attribute_formats(text, seconds):
  assert parse_timestamp_attribute(text) == seconds


def test_bad_timestamp_attribute_names_the_value():
  with pytest.raises(ValueError, match="'yesterday' is neither RFC 3339 nor milliseconds"):
    parse_timestamp_attribute('yesterday')


def _transform_names(pipeline):
  return [t.unique_name for t in pipeline.to_runner_api().components.transforms.values()]


def test_direct_runner_dedupes_in_the_pipeline():
  options, cfg = pubsub_to_bigquery.pipeline_options(ARGS)
  p = beam.Pipeline(options=options)
  pubsub_to_bigquery.build_pipeline(p, cfg)
  names = _transform_names(p)
  assert 'ReadEvents/Read/DedupeById' in names
  read = next(t for t in p.to_runner_api().components.transforms.values()
              if t.unique_name == 'ReadEvents/Read/ReadFromPubSub/Read')
  assert b'event_id' not in read.spec.payload  # no id_label: the DirectRunner rejects it


def test_dataflow_dedupes_natively_dry_run():
  options, cfg = pubsub_to_bigquery.pipeline_options(ARGS + [
      '--runner', 'DataflowRunner', '--dry_run', 'True', '--project', 'my-project',
      '--region', 'europe-west1', '--temp_location', 'gs://my-bucket/tmp'])
  p = beam.Pipeline(options=options)
  from beam_pipelines.transforms.beam_patches import direct_runner_pubsub_pull as pubsub_direct_pull
  previous = pubsub_direct_pull.set_direct_runner_pull_grace(1234)
  try:
    pubsub_to_bigquery.build_pipeline(p, cfg)
    # The DirectRunner's pull settings are left alone: Dataflow reads natively.
    assert pubsub_direct_pull.settings()['grace'] == 1234
  finally:
    pubsub_direct_pull.set_direct_runner_pull_grace(previous)
  result = p.run()
  transforms = result.job.proto_pipeline.components.transforms.values()
  names = [t.unique_name for t in transforms]
  assert not any('DedupeById' in n for n in names)
  read = next(t for t in transforms if t.spec.urn == 'beam:transform:pubsub_read:v1')
  # The read payload carries the subscription, the timestamp attribute and the id label.
  assert SUB.encode() in read.spec.payload
  assert b'\x1a\x02ts' in read.spec.payload and b'\x08event_id' in read.spec.payload


def test_message_becomes_a_raw_message_with_id_times_and_attributes():
  import datetime

  from apache_beam.io.gcp.pubsub import PubsubMessage
  from apache_beam.transforms.window import TimestampedValue
  from apache_beam.utils.timestamp import Timestamp

  from beam_pipelines.transforms.read.pubsub import ToRawMessageFn
  published = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.timezone.utc)
  fn = ToRawMessageFn('ts', parse_attribute=True)
  message = PubsubMessage(b'{"a": 1}', {'ts': '2026-11-26T11:59:58Z', 'k': 'v'},
                          message_id='m-42', publish_time=published)
  [out] = list(fn.process(message, timestamp=Timestamp.from_utc_datetime(published)))
  assert isinstance(out, TimestampedValue)
  assert out.timestamp == Timestamp.from_rfc3339('2026-11-26T11:59:58Z')
  raw = out.value
  assert raw.payload == b'{"a": 1}'
  assert raw.attributes == {'ts': '2026-11-26T11:59:58Z', 'k': 'v'}
  assert raw.source_id == 'm-42'
  assert raw.ingest_time == published.timestamp()
  assert raw.event_time == published.timestamp() - 2
  # Without the attribute: publish time stays the element time, event_time unknown.
  [plain] = list(fn.process(PubsubMessage(b'x', {}, message_id='m-43', publish_time=published),
                            timestamp=Timestamp.from_utc_datetime(published)))
  assert (plain.source_id, plain.event_time) == ('m-43', None)
