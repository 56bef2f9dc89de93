"""Batched streaming gives what the element-wise path gives, record by record.

``pubsub_to_bigquery --batch_size N`` moves messages in timed batches from the read through
de-duplication, parse, validate, mask, enrich and the user function (0: one at a time). The
same messages (good and bad lines, redelivered ids, messages without an id, unreadable
timestamp attributes, event times from the timestamp attribute over three windows) are read
by two pipelines at once, each from its own subscription on one topic, one element-wise and
one with batches of 7 (they cut anywhere). Both must write the same rows, the same dead
letters (same errorType, stage, payload and sourceId: the Pub/Sub message id), the same
final window panes (windows by element timestamp, so a record stamped with its batch's time
instead of its own would land in another window) and count the same.
"""

import json
import math
import os
import time
import uuid

import pytest
from apache_beam.metrics.metric import MetricsFilter
from streaming_helpers import publish, query, table_rows, wait_for

from beam_pipelines import pubsub_to_bigquery

pytestmark = pytest.mark.emulator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(REPO, 'samples')
KEY_VARIABLE = 'BATCHED_STREAMING_KEY'
WINDOW = 3.0
FLAGS = [
    '--id_attribute', 'eid', '--timestamp_attribute', 'ts', '--pubsub_pull_timeout', '0.5s',
    '--masking_policy', os.path.join(SAMPLES, 'masking_policy.yaml'),
    '--masking_key_source', f'env:{KEY_VARIABLE}',
    '--enrichment_source', os.path.join(SAMPLES, 'country_regions.csv'),
    '--enrichment_keys', 'country_code', '--enrichment_fields', 'region',
    '--window', 'fixed', '--window_size', f'{WINDOW:g}s', '--allowed_lateness', '60s',
    '--accumulation', 'accumulating', '--aggregate_keys', 'event_type',
    '--aggregate_sum', 'quantity',
]
ROW_COLUMNS = ('event_id, event_type, event_time, user, country_code, region, amount, '
               'quantity, score, is_test, tags')
AGG_COLUMNS = 'event_type, FORMAT_TIMESTAMP("%FT%T", window_start) AS window_start, count, sum_quantity'
# Counters that count messages or records (not bundles, pulls or time).
COMPARED_COUNTERS = ('read', 'dedup', 'validate', 'parse', 'mask', 'enrich', 'sink', 'window')


@pytest.fixture(autouse=True)
def masking_key(monkeypatch):
  monkeypatch.setenv(KEY_VARIABLE, 'batched-streaming-key-0123456789')


def messages(start_at):
  """(data, attributes) of every kind the read and the chain handle, event times over three
  windows from start_at."""
  with open(os.path.join(SAMPLES, 'events.jsonl'), 'rb') as f:
    lines = [line.rstrip(b'\n') for line in f][:180]
  out = []
  for i, line in enumerate(lines):
    millis = int((start_at + (i % 90) * (3 * WINDOW / 90)) * 1000)
    attributes = {'eid': f'm{i}', 'ts': str(millis)}
    if i % 41 == 7:
      attributes['ts'] = 'not-a-time'  # a read dead letter
    if i % 37 == 5:
      del attributes['eid']  # passes the de-dup uncounted
    out.append((line, attributes))
  return out + out[10:40]  # 30 redeliveries (those without eid pass again)


def final_panes(client, dataset):
  return query(client, f"""
      SELECT {AGG_COLUMNS} FROM {dataset}.events_aggregates AS a
      WHERE pane_index = (SELECT MAX(pane_index) FROM {dataset}.events_aggregates AS b
                          WHERE b.event_type = a.event_type
                            AND b.window_start = a.window_start)
      ORDER BY event_type, window_start""")


def dead_letters(client, dataset):
  return sorted(
      (d['errorType'], d['stage'], d['payloadString'], d['sourceId']) for d in table_rows(
          client, f'{dataset}.events_error_records', 'errorType',
          'errorType, stage, payloadString, sourceId'))


def insert_calls(running):
  """(insertAll calls, rows sent) of the run's streaming-insert writer (Beam's
  BigQueryWriteFn records each call's row count in its batch_size distribution)."""
  found = running.result.metrics().query(MetricsFilter().with_name('batch_size'))
  results = [d.committed for d in found['distributions'] if d.committed is not None]
  return sum(r.count for r in results), sum(r.sum for r in results)


def test_batched_and_element_wise_streaming_write_the_same(bigquery_emulator, bq_client,
                                                            pubsub_topic):
  from google.cloud import pubsub_v1
  topic, first_subscription = pubsub_topic
  subscriber = pubsub_v1.SubscriberClient()
  second_subscription = first_subscription + '-' + uuid.uuid4().hex[:6]
  subscriber.create_subscription(name=second_subscription, topic=topic)
  datasets = {0: 'st_b0_' + os.urandom(4).hex(), 7: 'st_b7_' + os.urandom(4).hex()}
  for ds in datasets.values():
    bq_client.create_dataset(ds)
  schema = os.path.join(SAMPLES, 'events_schema.json')
  project = bigquery_emulator.project
  runs, results = {}, {}
  try:
    # Event times ahead of the wall clock (the DirectRunner's Pub/Sub watermark), so every
    # window closes after both pipelines have read everything.
    start_at = (math.floor(time.time() / WINDOW) + 6) * WINDOW
    published = messages(start_at)
    for size, subscription in ((0, first_subscription), (7, second_subscription)):
      runs[size] = pubsub_to_bigquery.start([
          '--input_subscription', subscription, '--schema', schema,
          '--output_table', f'{project}:{datasets[size]}.events', '--batch_size', str(size),
          *FLAGS])
    publish(topic, published)
    try:
      for size, ds in datasets.items():
        wait_for(
            lambda ds=ds: final_panes(bq_client, ds) if table_rows(
                bq_client, f'{ds}.events_aggregates', 'window_start', 'window_start') else [],
            lambda got: sum(p['count'] for p in got) >= 120, timeout=60)
        # The last window closes WINDOW seconds after its last event; then nothing changes.
        wait_for(lambda: time.time(), lambda now: now > start_at + 4 * WINDOW + 2, timeout=30)
        results[size] = {
            'panes': final_panes(bq_client, ds),
            'rows': table_rows(bq_client, f'{ds}.events', 'event_id', ROW_COLUMNS),
            'dead': dead_letters(bq_client, ds),
        }
      for size, running in runs.items():
        results[size]['counters'] = {k: v for k, v in running.counters().items()
                                     if k[0] in COMPARED_COUNTERS}
        results[size]['inserts'] = insert_calls(running)
    finally:
      for running in runs.values():
        running.cancel()
  finally:
    subscriber.delete_subscription(subscription=second_subscription)
    for ds in datasets.values():
      bq_client.delete_dataset(ds, delete_contents=True, not_found_ok=True)

  one, batched = results[0], results[7]
  good = [json.loads(line) for line, _ in published[:180] if _is_event(line)]
  assert len(one['rows']) > 100 and len(one['dead']) > 5
  assert one['counters'][('dedup', 'duplicates')] == 30
  assert sum(p['count'] for p in one['panes']) == len(one['rows']) <= len(good)
  assert 'invalid_timestamp_attribute' in {d[0] for d in one['dead']}
  assert len({d[0] for d in one['dead']}) >= 3
  assert batched['rows'] == one['rows']
  assert batched['dead'] == one['dead']
  assert batched['panes'] == one['panes']
  assert batched['counters'] == one['counters']
  for size in (0, 7):
    calls, rows = results[size]['inserts']
    print(f'batch_size {size}: {calls} insertAll calls for {rows} rows')
    assert calls >= 1 and rows >= len(one['rows'])


def _is_event(line):
  try:
    return isinstance(json.loads(line), dict)
  except ValueError:
    return False
