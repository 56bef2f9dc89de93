"""One chain for batch and streaming: the same events once as a file through
files_to_bigquery and once through the Pub/Sub emulator into pubsub_to_bigquery give the same
rows, the same dead letters and the same windowed aggregates in the BigQuery emulator."""

import json
import math
import os
import time

import pytest
from streaming_helpers import publish, query, table_rows, wait_for

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery

pytestmark = pytest.mark.emulator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(REPO, 'samples')
WINDOW = 3.0
WINDOW_FLAGS = [
    '--window', 'fixed', '--window_size', f'{WINDOW:g}s', '--event_time_field', 'event_time',
    '--allowed_lateness', '60s', '--accumulation', 'accumulating', '--late_gate_shards', '1',
    '--aggregate_keys', 'event_type', '--aggregate_sum', 'quantity,amount',
    '--aggregate_min', 'score', '--aggregate_max', 'score,event_time',
    '--aggregate_distinct', 'user.id',
]
# Every column but BYTES and GEOGRAPHY, which bqemulator returns in a form the client
# cannot decode.
ROW_COLUMNS = ('event_id, event_type, event_time, event_date, user, device, country_code, '
               'amount, quantity, score, is_test, items, tags, properties, '
               'local_time, session_start')
AGG_COLUMNS = ('event_type, FORMAT_TIMESTAMP("%FT%T", window_start) AS window_start, count, '
               'sum_quantity, sum_amount, min_score, max_score, '
               'FORMAT_TIMESTAMP("%FT%E6S", max_event_time) AS max_event_time, distinct_user_id')


def events(start_at, count=150):
  """Sample lines (good and bad) with event times moved into two windows from start_at."""
  with open(os.path.join(SAMPLES, 'events.jsonl'), 'rb') as f:
    lines = [line.rstrip(b'\n') for line in f][:count]
  out = []
  for i, line in enumerate(lines):
    try:
      obj = json.loads(line)
    except ValueError:
      out.append(line)
      continue
    if isinstance(obj, dict):
      seconds = start_at + (i % 60) * (2 * WINDOW / 60)
      obj['event_time'] = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds)) + \
          f'.{int(round(seconds * 1000)) % 1000:03d}Z'
      line = json.dumps(obj).encode('utf-8')
    out.append(line)
  return out


def final_panes(client, dataset):
  """The last pane of every key and window (accumulating: it holds the whole window)."""
  return query(client, f"""
      SELECT {AGG_COLUMNS} FROM {dataset}.events_aggregates AS a
      WHERE pane_index = (SELECT MAX(pane_index) FROM {dataset}.events_aggregates AS b
                          WHERE b.event_type = a.event_type
                            AND b.window_start = a.window_start)
      ORDER BY event_type, window_start""")


def dead_letters(client, dataset):
  return sorted((d['errorType'], d['payloadString']) for d in table_rows(
      client, f'{dataset}.events_error_records', 'errorType', 'errorType, payloadString'))


def test_same_rows_dead_letters_and_aggregates(tmp_path, bigquery_emulator, bq_client,
                                               pubsub_topic):
  topic, subscription = pubsub_topic
  batch_ds, stream_ds = 'eq_batch_' + os.urandom(4).hex(), 'eq_stream_' + os.urandom(4).hex()
  for ds in (batch_ds, stream_ds):
    bq_client.create_dataset(ds)
  try:
    # Event times in the future (the DirectRunner's Pub/Sub watermark is the wall clock), so
    # the streaming run sees them on time however slowly it starts.
    start_at = (math.floor(time.time() / WINDOW) + 2) * WINDOW
    lines = events(start_at)
    path = tmp_path / 'events.jsonl'
    path.write_bytes(b'\n'.join(lines) + b'\n')
    schema = os.path.join(SAMPLES, 'events_schema.json')
    project = bigquery_emulator.project

    publish(topic, [(line, {}) for line in lines])
    running = pubsub_to_bigquery.start([
        '--input_subscription', subscription, '--schema', schema,
        '--output_table', f'{project}:{stream_ds}.events', '--pubsub_pull_timeout', '0.5s',
        *WINDOW_FLAGS])
    try:
      _, batch = files_to_bigquery.run([
          '--input', str(path), '--schema', schema,
          '--output_table', f'{project}:{batch_ds}.events', *WINDOW_FLAGS],
          print_summary=False)
      batch_rows = table_rows(bq_client, f'{batch_ds}.events', 'event_id', ROW_COLUMNS)
      batch_aggregates = final_panes(bq_client, batch_ds)
      batch_dead = dead_letters(bq_client, batch_ds)
      stream_aggregates = wait_for(lambda: final_panes(bq_client, stream_ds)
                                   if table_rows(bq_client, f'{stream_ds}.events_aggregates',
                                                 'window_start', 'window_start') else [],
                                   lambda got: got == batch_aggregates, timeout=30)
      stream_rows = wait_for(lambda: table_rows(bq_client, f'{stream_ds}.events', 'event_id',
                                                      ROW_COLUMNS),
                             lambda got: len(got) >= len(batch_rows), timeout=10)
      stream_dead = wait_for(lambda: dead_letters(bq_client, stream_ds),
                             lambda got: len(got) >= len(batch_dead), timeout=10)
      counters = running.counters()
    finally:
      running.cancel()
  finally:
    for ds in (batch_ds, stream_ds):
      bq_client.delete_dataset(ds, delete_contents=True, not_found_ok=True)

  assert batch['records_read'] == len(lines) == len(batch_rows) + len(batch_dead)
  assert len(batch_rows) > 100 and len(batch_dead) > 3
  assert len(batch_aggregates) == 2 * 5  # two windows x five event types
  assert sum(a['count'] for a in batch_aggregates) == len(batch_rows)
  assert stream_rows == batch_rows
  assert stream_dead == batch_dead
  assert stream_aggregates == batch_aggregates
  assert counters.get(('window', 'late_data'), 0) == 0
