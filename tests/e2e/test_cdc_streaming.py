"""cdc_to_bigquery streaming: the official Pub/Sub emulator -> BundleBasedDirectRunner ->
bqemulator, merging every 2 s. Changes arrive shuffled and in two waves (the second holding a
late change that lands between two merged versions), a delete carries its key only as the
Pub/Sub ordering key (as Debezium Server publishes it), tombstones are empty or ``null``
messages. A restarted stream that sees earlier messages again leaves every table as it was.
"""

import json

import pytest
from apache_beam.runners.runner import PipelineState
from streaming_helpers import table_rows, wait_for

from beam_pipelines import cdc_to_bigquery

from cdc_events import SCHEMA, debezium, postgres_source

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def publish_ordered(topic, messages):
  """messages: [(data, attributes, ordering_key or '')]; publishes with message ordering."""
  from google.cloud import pubsub_v1
  publisher = pubsub_v1.PublisherClient(
      publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True))
  futures = [publisher.publish(topic, data, ordering_key=key, **attrs)
             for data, attrs, key in messages]
  return [f.result(timeout=30) for f in futures]


def change(op, cid, name, ts, lsn, **kw):
  after = None if op == 'd' else {'id': cid, 'name': name}
  return (debezium(op, after=after, source=postgres_source(ts, lsn), ts_ms=ts + 1,
                   **kw).encode(), {}, json.dumps({'id': cid}))


FIRST_WAVE = [
    change('u', 1, 'one-c', 3000, 30),
    change('c', 1, 'one-a', 1000, 10),
    change('c', 2, 'two', 1100, 11),
    (debezium('d', source=postgres_source(2000, 20), ts_ms=2001).encode(), {},
     '{"id": 2}'),                               # before null: the key is the ordering key
    (b'', {'debezium': 'tombstone'}, '{"id": 2}'),  # an empty message: a tombstone
    (b'null', {}, ''),
    change('c', 3, 'three', 1200, 12),
]
SECOND_WAVE = [
    change('u', 1, 'one-b', 2000, 21),  # older than the replica's: lands between versions
    change('u', 3, 'three-b', 4000, 40),
    (b'{"op": "x", "source": {"ts_ms": 1}}', {}, ''),  # a dead letter
]


def rows_now(client, table, order_by, columns='*'):
  """The table's rows, or None while it cannot be read (not created yet, or busy in a merge:
  the emulator may answer a query that races a merge with an error)."""
  try:
    return table_rows(client, table, order_by, columns)
  except Exception:  # pylint: disable=broad-except
    return None


def snapshot(client, dataset):
  return {t: sorted(json.dumps(r, sort_keys=True, default=str) for r in table_rows(
      client, f'{dataset}.{t}', '1')) for t in ('people', 'people_changelog', 'people_history')}


def test_streamed_changes_merge_every_interval_and_a_restart_changes_nothing(
    tmp_path, bigquery_emulator, bq_client, bq_dataset, pubsub_topic):
  topic, subscription = pubsub_topic
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  table = f'{bigquery_emulator.project}:{bq_dataset}.people'
  argv = ['--input_subscription', subscription, '--schema', str(schema), '--primary_key', 'id',
          '--output_table', table, '--history_table', table + '_history',
          '--merge_interval', '2s', '--pubsub_pull_timeout', '0.5s',
          '--temp_location', str(tmp_path / 'tmp')]
  publish_ordered(topic, FIRST_WAVE)
  running = cdc_to_bigquery.start(argv)
  try:
    replica = wait_for(
        lambda: rows_now(bq_client, f'{bq_dataset}.people', 'id', 'id, name'),
        lambda r: r == [{'id': 1, 'name': 'one-c'}, {'id': 3, 'name': 'three'}], timeout=40)
    assert replica == [{'id': 1, 'name': 'one-c'}, {'id': 3, 'name': 'three'}]
    publish_ordered(topic, SECOND_WAVE)
    history = wait_for(
        lambda: rows_now(bq_client, f'{bq_dataset}.people_history', 'id, valid_from',
                         'id, name, is_current'),
        lambda r: r is not None and len(r) == 6, timeout=40)
    # Metrics land when their bundle commits, maybe after the tables show the merge: wait
    # for every count asserted below.
    counters = wait_for(running.counters,
                        lambda c: c.get(('dead_letters', 'total'), 0) >= 1
                        and c.get(('cdc', 'merges'), 0) >= 2
                        and c.get(('cdc', 'applied'), 0) >= 7
                        and c.get(('cdc', 'tombstones'), 0) >= 2, timeout=30)
  finally:
    state = running.cancel()
  assert state == PipelineState.CANCELLED
  assert history == [
      {'id': 1, 'name': 'one-a', 'is_current': False},
      {'id': 1, 'name': 'one-b', 'is_current': False},  # the late change, slotted in
      {'id': 1, 'name': 'one-c', 'is_current': True},
      {'id': 2, 'name': 'two', 'is_current': False},
      {'id': 3, 'name': 'three', 'is_current': False},
      {'id': 3, 'name': 'three-b', 'is_current': True}]
  assert table_rows(bq_client, f'{bq_dataset}.people', 'id', 'id, name') == [
      {'id': 1, 'name': 'one-c'}, {'id': 3, 'name': 'three-b'}]
  assert counters[('cdc', 'tombstones')] == 2
  assert counters[('cdc', 'merges')] >= 2  # one per interval with changes
  summary = running.summary()
  assert summary['cdc']['changes_applied'] == 7
  assert summary['counting_invariant']['holds'], summary['counting_invariant']

  before = snapshot(bq_client, bq_dataset)
  redelivered = FIRST_WAVE[:4] + SECOND_WAVE[:2]
  publish_ordered(topic, redelivered)
  again = cdc_to_bigquery.start(argv)
  try:
    counters = wait_for(again.counters,
                        lambda c: c.get(('cdc', 'staged'), 0) >= len(redelivered),
                        timeout=40)
  finally:
    again.cancel()
  assert counters[('cdc', 'applied')] == 0
  assert counters[('cdc', 'duplicates')] == len(redelivered)
  assert snapshot(bq_client, bq_dataset) == before
