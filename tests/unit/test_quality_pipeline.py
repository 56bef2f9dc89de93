"""CheckQuality in pipelines: routing (dead letter vs flag), per-window scores in batch
(timestamps from a field) and in streaming (TestStream, watermark-driven windows)."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window

from beam_pipelines.transforms.quality import CheckQuality

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


def ts(seconds):
  from beam_pipelines.transforms.core.dead_letter import format_timestamp
  return format_timestamp(BASE + seconds)


RULES = {
    'window_seconds': 60, 'timestamp_field': 'ts', 'flag_field': 'dq',
    'rules': [
        {'id': 'id_present', 'kind': 'not_null', 'path': 'id', 'action': 'dead_letter'},
        {'id': 'amount_range', 'kind': 'range', 'path': 'amount', 'min': 0, 'max': 100},
        {'id': 'kind_known', 'kind': 'allowed_values', 'path': 'kind', 'values': ['a', 'b']},
        {'id': 'unique_id', 'kind': 'unique', 'path': 'id', 'action': 'dead_letter'},
    ]}
ROWS = [
    # window [0, 60): 4 rows; one null id (dead letter), one duplicate id (dead letter),
    # one out-of-range amount (flag), one unknown kind (flag, same row).
    {'id': 'e1', 'amount': 5, 'kind': 'a', 'ts': ts(1)},
    {'id': 'e1', 'amount': 6, 'kind': 'a', 'ts': ts(2)},
    {'id': None, 'amount': 7, 'kind': 'b', 'ts': ts(3)},
    {'id': 'e2', 'amount': 500, 'kind': 'z', 'ts': ts(4)},
    # window [60, 120): the same id e1 again is NOT a duplicate there (uniqueness per window).
    {'id': 'e1', 'amount': None, 'kind': 'b', 'ts': ts(61)},
    {'id': 'e3', 'amount': 1, 'kind': 'a', 'ts': ts(62)},
]


def _scores_view(score):
  return (score['window_start'], score['rows'], score['dead_lettered'], score['flagged'],
          score['completeness'], score['validity'], score['uniqueness'], score['freshness'],
          tuple(sorted((r['rule_id'], r['checked'], r['failed']) for r in score['rules'])))


EXPECTED_SCORES = [
    # window 0: completeness 3/4; validity: range 4 checked 1 failed + kind 4 checked 1 failed
    # -> 6/8; uniqueness: rows with a key not dead-lettered before: e1, e1, e2 -> 2/3.
    (ts(0), 4, 2, 1, 0.75, 0.75, 0.666667, None,
     (('amount_range', 4, 1), ('id_present', 4, 1), ('kind_known', 4, 1), ('unique_id', 3, 1))),
    # window 60: amount null is skipped by range (1 checked); e1 unique again in this window.
    (ts(60), 2, 0, 0, 1.0, 1.0, 1.0, None,
     (('amount_range', 1, 0), ('id_present', 2, 0), ('kind_known', 2, 0), ('unique_id', 2, 0))),
]


def _pick(rows):
  # Which of two duplicates is kept is the runner's delivery order: only one of e1@1s/e1@2s.
  first_window_e1 = [r['amount'] for r in rows if r['id'] == 'e1' and r['ts'] < ts(60)]
  return (sorted((r['id'], tuple(r['dq'])) for r in rows), len(first_window_e1),
          set(first_window_e1) <= {5, 6})


def test_batch_routing_and_scores_per_window():
  with beam.Pipeline('FnApiRunner') as p:
    result = p | beam.Create(ROWS) | CheckQuality(RULES, pipeline_name='t')
    assert_that(result.rows | beam.combiners.ToList() | beam.Map(_pick), equal_to([(
        [('e1', ()), ('e1', ()), ('e2', ('amount_range', 'kind_known')), ('e3', ())],
        1, True)]), label='rows')
    assert_that(result.dead_letters | beam.Map(lambda d: (d['stage'], d['errorType'])),
                equal_to([('quality', 'quality:id_present'),
                          ('quality', 'quality:unique_id')]), label='dead')
    assert_that(result.scores | beam.Map(_scores_view), equal_to(EXPECTED_SCORES),
                label='scores')
  metrics = {(m.key.metric.name): m.committed for m in
             p.result.metrics().query()['counters'] if m.key.metric.namespace == 'quality'}
  assert metrics['rows'] == 6 and metrics['dead_letters'] == 2 and metrics['flagged'] == 1
  assert metrics['completeness_checked'] == 6 and metrics['completeness_failed'] == 1
  assert metrics['windows_scored'] == 2


def test_dead_letter_names_every_failed_rule_and_keeps_the_row():
  rules = {'rules': [
      {'id': 'a', 'kind': 'not_null', 'path': 'x', 'action': 'dead_letter'},
      {'id': 'b', 'kind': 'regex', 'path': 'y', 'pattern': '[0-9]+'}]}
  with beam.Pipeline('FnApiRunner') as p:
    result = p | beam.Create([{'x': None, 'y': 'abc'}]) | CheckQuality(rules)
    assert_that(result.dead_letters | beam.Map(
        lambda d: (d['errorType'], d['errorMessage'], d['payloadString'])), equal_to([(
            'quality:a', "a (not_null): x is null; b (regex, flag): y: value does not match "
            "'[0-9]+'", '{"x": null, "y": "abc"}')]))
    assert_that(result.rows, equal_to([]), label='no rows')
    # No window: one score row for the whole (bounded) run, window bounds NULL.
    assert_that(result.scores | beam.Map(lambda s: (s['window_start'], s['rows'],
                                                    s['completeness'], s['validity'])),
                equal_to([(None, 1, 0.0, 0.0)]), label='scores')


def test_streaming_test_stream_scores_each_window_when_the_watermark_passes():
  rules = {'window_seconds': 10, 'rules': [
      {'id': 'v', 'kind': 'not_null', 'path': 'v'},
      {'id': 'u', 'kind': 'unique', 'path': 'k'},
      {'id': 'fresh', 'kind': 'freshness', 'max_delay_seconds': 3600 * 24 * 365 * 100}]}
  stream = (TestStream()
            .advance_watermark_to(BASE)
            .add_elements([window.TimestampedValue({'k': 1, 'v': 1}, BASE + 1),
                           window.TimestampedValue({'k': 1, 'v': None}, BASE + 2)])
            .advance_watermark_to(BASE + 10)
            .add_elements([window.TimestampedValue({'k': 1, 'v': 3}, BASE + 11),
                           window.TimestampedValue({'k': 2, 'v': 4}, BASE + 12)])
            .advance_watermark_to_infinity())
  options = PipelineOptions(runner='BundleBasedDirectRunner')
  options.view_as(StandardOptions).streaming = True
  with beam.Pipeline(options=options) as p:
    result = p | stream | CheckQuality(rules)
    assert_that(result.scores | beam.Map(lambda s: (
        s['window_start'], s['rows'], s['completeness'], s['uniqueness'], s['freshness'],
        s['pane'])), equal_to([
            (ts(0), 2, 0.5, 0.5, 1.0, 'ON_TIME'),
            (ts(10), 2, 1.0, 1.0, 1.0, 'ON_TIME')]))
    assert_that(result.rows | beam.Map(lambda r: r['k']), equal_to([1, 1, 1, 2]),
                label='rows')


def test_unbounded_input_needs_a_window():
  options = PipelineOptions(runner='BundleBasedDirectRunner')
  options.view_as(StandardOptions).streaming = True
  p = beam.Pipeline(options=options)
  stream = TestStream().add_elements([{'a': 1}]).advance_watermark_to_infinity()
  with pytest.raises(ValueError, match='window_seconds is required for unbounded'):
    _ = p | stream | CheckQuality({'rules': [{'id': 'a', 'kind': 'not_null', 'path': 'a'}]})


def test_rows_stamped_at_the_global_windows_end_have_no_event_time():
  """After a GroupByKey in the global window (as in a Beam YAML pipeline) a row carries the
  window's end, year 294247: no event time, so no freshness; it used to fail the run
  (``format_timestamp``: year 294247 is out of range). A real event time still counts."""
  config = {'rules': [{'id': 'id_present', 'kind': 'not_null', 'path': 'id'}]}
  with beam.Pipeline(options=PipelineOptions(runner='FnApiRunner')) as p:
    rows = (p | beam.Create([('k', {'id': 'a'}), ('k', {'id': 'b'})])
            | beam.GroupByKey() | beam.FlatMap(lambda kv: kv[1]))
    checked = rows | 'Global' >> CheckQuality(config, pipeline_name='t', clock=lambda: 1000.0)
    assert_that(checked.scores | 'ViewGlobal' >> beam.Map(
        lambda r: (r['rows'], r['newest_event_time'], r['lag_max_seconds'])),
        equal_to([(2, None, None)]), label='NoEventTime')
    stamped = (p | 'Stamped' >> beam.Create([{'id': 'c'}])
               | beam.Map(lambda r: window.TimestampedValue(r, 940.0)))
    fresh = stamped | 'Real' >> CheckQuality(config, pipeline_name='t', clock=lambda: 1000.0)
    assert_that(fresh.scores | 'ViewReal' >> beam.Map(
        lambda r: (r['newest_event_time'], r['lag_max_seconds'])),
        equal_to([('1970-01-01T00:15:40.000000Z', 60.0)]), label='EventTime')
