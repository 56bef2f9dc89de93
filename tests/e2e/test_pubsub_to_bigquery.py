"""pubsub_to_bigquery end to end: the official Pub/Sub emulator -> BundleBasedDirectRunner ->
bqemulator. Exact rows, exact dead letters, de-duplication by id attribute, late data, a
clean cancel; each run well under 30 s thanks to the short DirectRunner pull timeout."""

import json
import time

import pytest
from apache_beam.runners.runner import PipelineState
from streaming_helpers import publish, table_rows, wait_for

from beam_pipelines import pubsub_to_bigquery
from beam_pipelines.runtime.summary import format_summary

pytestmark = pytest.mark.emulator

SCHEMA = [
    {'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'kind', 'type': 'STRING'},
    {'name': 'n', 'type': 'INTEGER'},
]


def iso(seconds):
  return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds)) + \
      f'.{int(seconds * 1000) % 1000:03d}Z'


def start(tmp_path, table, subscription, extra=()):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return pubsub_to_bigquery.start([
      '--input_subscription', subscription, '--schema', str(schema),
      '--output_table', table, '--id_attribute', 'event_id', '--timestamp_attribute', 'ts',
      '--pubsub_pull_timeout', '0.5s', *extra])


def test_rows_dead_letters_and_dedup_exactly(tmp_path, bigquery_emulator, bq_client,
                                              bq_dataset, pubsub_topic):
  topic, subscription = pubsub_topic
  now = time.time()
  good = [{'event_id': f'e{i}', 'kind': 'click', 'n': i} for i in range(1, 4)]
  messages = [(json.dumps(r).encode(), {'event_id': r['event_id'], 'ts': iso(now)})
              for r in good]
  messages += [
      (b'{"event_id": "e9", "n": ', {'event_id': 'e9', 'ts': iso(now)}),       # invalid_json
      (b'{"kind": "no id"}', {'event_id': 'e10'}),                             # missing id
      (b'{"event_id": "e11", "n": 1}', {'event_id': 'e11', 'ts': 'yesterday'}),  # bad ts attr
      (json.dumps(good[0]).encode(), {'event_id': 'e1', 'ts': iso(now)}),     # duplicate
      (json.dumps(good[1]).encode(), {'event_id': 'e2', 'ts': iso(now)}),     # duplicate
      (b'{"event_id": "e12", "n": 5}', {}),                      # no id attribute: kept
  ]
  ids = publish(topic, messages)
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  t0 = time.monotonic()
  running = start(tmp_path, table, subscription)
  try:
    counters = wait_for(running.counters,
                        lambda c: c.get(('dedup', 'duplicates'), 0) >= 2
                        and c.get(('sink', 'rows_attempted'), 0) >= 4
                        and c.get(('sink', 'dead_letters_attempted'), 0) >= 3,
                        timeout=25)
    rows = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events', 'event_id'),
                    lambda r: len(r) >= 4, timeout=10)
    dead = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events_error_records',
                                       'sourceId'),
                    lambda r: len(r) >= 3, timeout=10)
  finally:
    state = running.cancel()
  elapsed = time.monotonic() - t0
  assert state == PipelineState.CANCELLED
  assert rows == [{'event_id': 'e1', 'kind': 'click', 'n': 1},
                  {'event_id': 'e12', 'kind': None, 'n': 5},
                  {'event_id': 'e2', 'kind': 'click', 'n': 2},
                  {'event_id': 'e3', 'kind': 'click', 'n': 3}]
  by_id = {d['sourceId']: d for d in dead}
  assert set(by_id) == {ids[3], ids[4], ids[5]}
  assert (by_id[ids[3]]['stage'], by_id[ids[3]]['errorType']) == ('parse', 'invalid_json')
  assert by_id[ids[4]]['errorType'] == 'missing_required:event_id'
  assert (by_id[ids[5]]['stage'], by_id[ids[5]]['errorType']) == \
      ('read', 'invalid_timestamp_attribute')
  assert {a['key']: a['value'] for a in by_id[ids[5]]['attributes']} == \
      {'event_id': 'e11', 'ts': 'yesterday'}
  assert by_id[ids[3]]['payloadString'] == '{"event_id": "e9", "n": '
  assert counters[('dedup', 'duplicates')] == 2
  assert counters[('dedup', 'no_id_attribute')] == 1
  summary = running.summary()
  # Counting invariant: messages in == rows + dead letters + duplicates removed on purpose.
  assert summary['messages_read'] == len(messages) == \
      summary['rows_written'] + summary['dead_letters'] + summary['duplicates_removed']
  assert elapsed < 30, f'streaming e2e took {elapsed:.1f}s'
  # The printed summary names the source as what it is, and Beam's lineage metrics (read
  # from the streaming DirectRunner's own form) list the subscription and both tables.
  text = format_summary(summary, 'pubsub_to_bigquery summary').splitlines()
  assert f'    input         pubsub      {subscription}' in text, text
  _, project, _, name = subscription.split('/')
  assert summary['lineage'] == {
      'sources': [f'pubsub:subscription:{project}.{name}'],
      'sinks': [f'bigquery:{project}.{bq_dataset}.events',
                f'bigquery:{project}.{bq_dataset}.events_error_records']}, summary['lineage']
  assert 'none reported' not in '\n'.join(text)


def test_windowed_aggregates_and_late_data_dead_letter(tmp_path, bigquery_emulator, bq_client,
                                                        bq_dataset, pubsub_topic):
  topic, subscription = pubsub_topic
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  size = 2.0
  # Event times in the window after the next one: on time however slow the start is.
  start_at = (int(time.time() / size) + 2) * size
  on_time = [{'event_id': f'e{i}', 'kind': 'click' if i % 2 else 'view', 'n': i}
             for i in range(1, 6)]
  publish(topic, [(json.dumps(r).encode(), {'event_id': r['event_id'],
                                            'ts': iso(start_at + 0.1 * i)})
                  for i, r in enumerate(on_time)])
  t0 = time.monotonic()
  running = start(tmp_path, table, subscription, extra=[
      '--window', 'fixed', '--window_size', f'{size}s', '--late_gate_shards', '1',
      '--aggregate_keys', 'kind', '--aggregate_sum', 'n', '--aggregate_max', 'n',
      '--aggregate_distinct', 'event_id'])
  try:
    aggregates = wait_for(
        lambda: table_rows(bq_client, f'{bq_dataset}.events_aggregates', 'kind'),
        lambda r: len(r) >= 2, timeout=25)
    # The window has closed: an event for it now is beyond the (zero) allowed lateness.
    publish(topic, [(b'{"event_id": "late", "kind": "click", "n": 100}',
                     {'event_id': 'late', 'ts': iso(start_at + 0.5)})])
    dead = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events_error_records',
                                       'sourceId'),
                    lambda r: len(r) >= 1, timeout=15)
    rows = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events', 'event_id'),
                    lambda r: len(r) >= 6, timeout=10)
    counters = running.counters()
  finally:
    state = running.cancel()
  elapsed = time.monotonic() - t0
  assert state == PipelineState.CANCELLED
  window_start = iso(start_at).replace('Z', '')
  got = [{k: (v.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] if k.startswith('window_') else v)
          for k, v in r.items()} for r in aggregates]
  assert got == [
      {'kind': 'click', 'window_start': window_start, 'window_end': iso(start_at + size)[:-1],
       'pane_timing': 'ON_TIME', 'pane_index': 0, 'count': 3, 'sum_n': 9, 'max_n': 5,
       'distinct_event_id': 3},
      {'kind': 'view', 'window_start': window_start, 'window_end': iso(start_at + size)[:-1],
       'pane_timing': 'ON_TIME', 'pane_index': 0, 'count': 2, 'sum_n': 6, 'max_n': 4,
       'distinct_event_id': 2},
  ]
  assert [(d['stage'], d['errorType']) for d in dead] == [('window', 'late_data')]
  assert json.loads(dead[0]['payloadString'])['event_id'] == 'late'
  # The late row is still a valid row: it is in the rows table, only not in an aggregate.
  assert [r['event_id'] for r in rows] == ['e1', 'e2', 'e3', 'e4', 'e5', 'late']
  assert counters[('window', 'late_data')] == 1
  assert elapsed < 30, f'streaming e2e took {elapsed:.1f}s'


def test_reads_a_topic_through_a_temporary_subscription(tmp_path, bigquery_emulator, bq_client,
                                                        bq_dataset, pubsub_topic):
  from google.cloud import pubsub_v1
  topic, _ = pubsub_topic
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  running = pubsub_to_bigquery.start([
      '--input_topic', topic, '--schema', str(schema), '--output_table', table,
      '--pubsub_pull_timeout', '0.5s'])
  try:
    publisher = pubsub_v1.PublisherClient()
    # The DirectRunner creates its subscription when the read first runs; only messages
    # published after that reach it.
    subscriptions = wait_for(lambda: list(publisher.list_topic_subscriptions(topic=topic)),
                             lambda subs: any('/beam_' in s for s in subs), timeout=15)
    assert any('/beam_' in s for s in subscriptions), subscriptions
    publish(topic, [(b'{"event_id": "t1", "n": 1}', {}), (b'{"event_id": "t2"}', {})])
    rows = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events', 'event_id'),
                    lambda r: len(r) >= 2, timeout=15)
  finally:
    state = running.cancel()
    # Beam deletes its temporary subscription only when the transform is garbage-collected;
    # until then a cancelled executor thread may keep pulling (and retrying once the
    # emulator is gone), delaying interpreter exit by about a minute. Delete it now.
    subscriber = pubsub_v1.SubscriberClient()
    for name in publisher.list_topic_subscriptions(topic=topic):
      if '/beam_' in name:
        subscriber.delete_subscription(subscription=name)
    # Beam's cached client would try again at interpreter exit, when the session's emulator
    # is gone, and retry for 60 s: tell it the subscription is already deleted.
    from apache_beam.runners.direct import transform_evaluator
    cache = transform_evaluator._PubSubReadEvaluator._subscriber_client_cache  # pylint: disable=protected-access
    for client in list(cache.values()):
      client.set_temporary_subscription(None)
  assert state == PipelineState.CANCELLED
  assert rows == [{'event_id': 't1', 'kind': None, 'n': 1},
                  {'event_id': 't2', 'kind': None, 'n': None}]
