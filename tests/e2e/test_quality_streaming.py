"""Quality rules in the streaming pipeline (Pub/Sub emulator -> BundleBasedDirectRunner ->
bqemulator): a window's scores land in the quality table once the watermark passes it,
quality dead letters are written, and the periodic summary reports while the job runs."""

import json
import math
import time

import pytest
from streaming_helpers import publish, table_rows, wait_for

from beam_pipelines import pubsub_to_bigquery
from beam_pipelines.runtime.summary import PeriodicSummary

pytestmark = pytest.mark.emulator

SCHEMA = [{'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'},
          {'name': 'n', 'type': 'INTEGER'}]
RULES = """
window_seconds: 5
rules:
  - {id: n_present, kind: not_null, path: n}
  - {id: n_small, kind: range, path: n, max: 10, action: dead_letter}
"""


def iso(seconds):
  return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds)) + \
      f'.{int(seconds * 1000) % 1000:03d}Z'


def test_streaming_scores_dead_letters_and_periodic_summary(tmp_path, bigquery_emulator,
                                                             bq_client, bq_dataset,
                                                             pubsub_topic):
  topic, subscription = pubsub_topic
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'rules.yaml').write_text(RULES)
  # Every message is stamped in the same 5 s window (the one starting at `start`).
  start = math.floor(time.time() / 5) * 5 + 5
  while time.time() < start:
    time.sleep(0.05)
  events = [{'event_id': 'a', 'n': 1}, {'event_id': 'b', 'n': None},
            {'event_id': 'c', 'n': 50}, {'event_id': 'd', 'n': 3}]
  publish(topic, [(json.dumps(e).encode(), {'ts': iso(start + 0.5)}) for e in events])
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  running = pubsub_to_bigquery.start([
      '--input_subscription', subscription, '--schema', str(tmp_path / 'schema.json'),
      '--output_table', table, '--timestamp_attribute', 'ts', '--pubsub_pull_timeout', '0.5s',
      '--quality_rules', str(tmp_path / 'rules.yaml')])
  logged = []
  try:
    with PeriodicSummary(running.result, 1, 'running', summarize=running.summary,
                         log=logged.append):
      scores = wait_for(lambda: table_rows(
          bq_client, f'{bq_dataset}.events_quality', 'window_start',
          'FORMAT_TIMESTAMP("%FT%TZ", window_start) AS ws, rows, dead_lettered, flagged, '
          'completeness, validity'), lambda r: len(r) >= 1, timeout=40)
      dead = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events_error_records',
                                         'errorType', 'errorType, stage'),
                      lambda r: len(r) >= 1, timeout=10)
      rows = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events', 'event_id',
                                         'event_id'), lambda r: len(r) >= 3, timeout=10)
      wait_for(lambda: logged, lambda lines: any('quality (run; 4 rows' in x for x in lines),
               timeout=5)
  finally:
    running.cancel()
  assert scores == [{'ws': iso(start).replace('.000Z', 'Z'), 'rows': 4, 'dead_lettered': 1,
                     'flagged': 1, 'completeness': 0.75, 'validity': 0.666667}]
  assert dead == [{'errorType': 'quality:n_small', 'stage': 'quality'}]
  assert [r['event_id'] for r in rows] == ['a', 'b', 'd']
  assert any('quality (run; 4 rows, 1 dead letters, 1 flagged' in x for x in logged)
  summary = running.summary()
  assert summary['quality']['scores']['completeness'] == 0.75
  assert {s['role'] for s in summary['sinks']} == {'rows', 'dead_letters', 'quality'}
