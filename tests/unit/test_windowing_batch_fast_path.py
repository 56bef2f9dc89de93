"""Batch fast path of WindowAndAggregate (issue 8): the same aggregate rows as the windowed
path (WindowInto + trigger + CombinePerKey), without per-window trigger state."""

import uuid

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.transforms.windowing.aggregates import AggregateConfig
from beam_pipelines.transforms.windowing.config import TriggerConfig, WindowConfig
from beam_pipelines.transforms.windowing import transform as windowing_transform
from beam_pipelines.transforms.windowing.transform import WindowAndAggregate, single_pane_batch

SCHEMA = [
    {'name': 'k', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'user', 'type': 'STRING'},
    {'name': 'n', 'type': 'INTEGER'},
    {'name': 'x', 'type': 'FLOAT'},
    {'name': 'ts', 'type': 'TIMESTAMP'},
]
AGG = AggregateConfig(key_fields=('k',), sum_fields=('n', 'x'), min_fields=('n',),
                      max_fields=('x',), distinct_fields=('user',))
_COLLECTED = {}


def _collect(element, run_id, name):
  _COLLECTED.setdefault((run_id, name), []).append(element)


def _rows():
  out = []
  for i in range(300):
    seconds = (i * 7) % 200
    ts = f'1970-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}.000000Z'
    out.append({'k': 'abc'[i % 3], 'user': f'u{i % 11}', 'n': i, 'x': i / 4, 'ts': ts})
  out.append({'k': 'a', 'n': 1})  # no event time: a dead letter on both paths
  return out


def _run(window, fast, monkeypatch):
  if not fast:
    monkeypatch.setattr(windowing_transform, 'single_pane_batch', lambda *a: False)
  run_id = uuid.uuid4().hex
  with beam.Pipeline(options=PipelineOptions(runner='FnApiRunner')) as p:
    out = (p | beam.Create(_rows())
           | WindowAndAggregate(SCHEMA, window, AGG, pipeline_name='t'))
    _ = out.rows | 'CollectRows' >> beam.Map(_collect, run_id, 'rows')
    _ = out.dead_letters | 'CollectDead' >> beam.Map(_collect, run_id, 'dead')
  monkeypatch.undo()
  rows = _COLLECTED.pop((run_id, 'rows'), [])
  dead = _COLLECTED.pop((run_id, 'dead'), [])
  return (sorted(sorted(r.items()) for r in rows),
          sorted((d['stage'], d['errorType']) for d in dead))


@pytest.mark.parametrize('window', [
    WindowConfig('fixed', size_seconds=60, event_time_field='ts'),
    WindowConfig('fixed', size_seconds=10, event_time_field='ts', allowed_lateness_seconds=30),
    WindowConfig('sliding', size_seconds=60, period_seconds=20, event_time_field='ts'),
    WindowConfig('fixed', size_seconds=60, event_time_field='ts',
                 trigger=TriggerConfig(early_after_seconds=5, accumulation='accumulating')),
], ids=['fixed', 'fixed-lateness', 'sliding', 'processing-time-early'])
def test_fast_path_gives_the_windowed_paths_rows(window, monkeypatch):
  bounded = beam.Pipeline() | beam.Create([{'ts': '2026-01-01T00:00:00Z'}])
  assert single_pane_batch(window, bounded)
  fast = _run(window, True, monkeypatch)
  slow = _run(window, False, monkeypatch)
  assert fast[0] and fast == slow
  assert {dict(r)['pane_timing'] for r in fast[0]} == {'ON_TIME'}


def test_sessions_and_count_triggers_keep_the_windowed_path():
  p = beam.Pipeline() | beam.Create([{'ts': '2026-01-01T00:00:00Z'}])
  assert not single_pane_batch(
      WindowConfig('session', gap_seconds=10), p)
  assert not single_pane_batch(
      WindowConfig('fixed', size_seconds=10, trigger=TriggerConfig(early_after_count=2)), p)
