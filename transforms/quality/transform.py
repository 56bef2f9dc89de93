"""CheckQuality: data-quality rules on rows, per-window scores, dead letters or flags."""

import json
import logging
import time
from typing import Any, NamedTuple, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window as beam_window
from apache_beam.utils.timestamp import MAX_TIMESTAMP, MIN_TIMESTAMP

from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, make_dead_letter,
                                                        pipeline_name_of)
from beam_pipelines.transforms.core.elements import (RowDict, UnsupportedElement, row_dict,
                                                     source_id_of,
                                                     unsupported_element_dead_letter,
                                                     without_source_id)
from beam_pipelines.transforms.core.outputs import remember_schema, schema_of, typed_dead_letters
from beam_pipelines.transforms.quality.config import SCORES, QualityConfig, quality_output_schema
from beam_pipelines.transforms.quality.freshness import FreshnessMetrics
from beam_pipelines.transforms.quality.rules import (compile_rule, is_event_time, parse_timestamp,
                                                    values_at)
from beam_pipelines.transforms.quality.rules_file import load_quality_rules
from beam_pipelines.transforms.quality.scores import ScoreCombineFn, ScoreRowFn, observation
from beam_pipelines.transforms.quality.uniqueness import KeyForUniqueFn, MarkDuplicatesFn

_LOG = logging.getLogger(__name__)
OBSERVATIONS_TAG = 'observations'


class QualityResult(NamedTuple):
  """What CheckQuality returns: rows to write, quality dead letters, per-window scores."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  scores: beam.PCollection


def _element_time(timestamp):
  if timestamp is None or timestamp <= MIN_TIMESTAMP or timestamp >= MAX_TIMESTAMP:
    return None
  seconds = float(timestamp)
  return seconds if is_event_time(seconds) else None  # not the global window's end


class _CheckRowRulesFn(beam.DoFn):
  """row -> (row, outcome); outcome = checks per rule, failures, dead?, event time."""

  def __init__(self, config, clock=None, pipeline_name=None):
    self._config = config
    self._clock = clock or time.time
    self._pipeline_name = pipeline_name
    self._checks = None

  def setup(self):
    self._checks = [(rule, compile_rule(rule)) for rule in self._config.row_rules]
    self._freshness = FreshnessMetrics()

  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    try:
      row = row_dict(element)
    except UnsupportedElement:
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
          element, 'quality', 'CheckQuality', 'rows (dicts or beam.Rows)', self._pipeline_name))
      return
    event_time = None
    if self._config.timestamp_field:
      values = [v for v in values_at(row, self._config.timestamp_field) if v is not None]
      event_time = parse_timestamp(values[0]) if values else None
      event_time = event_time if is_event_time(event_time) else None
    if event_time is None:
      event_time = _element_time(timestamp)
    now = self._clock()
    lag = None if event_time is None else now - event_time
    self._freshness.row(lag)
    outcome = {'checks': {}, 'failures': [], 'dead': False, 'event_time': event_time,
               'lag': lag}
    for rule, check in self._checks:
      try:
        checked, failure = check(row, event_time, now)
      except Exception as e:  # pylint: disable=broad-except
        # A bug in a rule must not lose the row: count it as a failure with the reason.
        checked, failure = 1, f'rule error {type(e).__name__}: {e}'
      outcome['checks'][rule.id] = (checked, 1 if failure else 0)
      if failure:
        outcome['failures'].append((rule, failure))
        if rule.action == 'dead_letter':
          outcome['dead'] = True
    yield row, outcome


class _RouteFn(beam.DoFn):
  """(row, outcome) -> a row (flags added), a quality dead letter, and an observation."""

  def __init__(self, config, pipeline_name):
    self._config = config
    self._pipeline_name = pipeline_name
    self._rule_ids = [r.id for r in config.rules]

  def setup(self):
    self._rows = Metrics.counter('quality', 'rows')
    self._dead = Metrics.counter('quality', 'dead_letters')
    self._flagged = Metrics.counter('quality', 'flagged')
    self._counters = {}
    for rule in self._config.rules:
      for what in ('checked', 'failed'):
        self._counters[(rule.id, what)] = Metrics.counter('quality', f'{rule.id}_{what}')
    for score in SCORES:
      for what in ('checked', 'failed'):
        self._counters[(score, what)] = Metrics.counter('quality', f'{score}_{what}')

  def process(self, pair, timestamp=beam.DoFn.TimestampParam):
    row, outcome = pair
    self._rows.inc()
    for rule in self._config.rules:
      checked, failed = outcome['checks'].get(rule.id, (0, 0))
      if checked:
        self._counters[(rule.id, 'checked')].inc(checked)
        self._counters[(rule.score, 'checked')].inc(checked)
      if failed:
        self._counters[(rule.id, 'failed')].inc(failed)
        self._counters[(rule.score, 'failed')].inc(failed)
    obs = observation(outcome, self._rule_ids)
    event_time = outcome['event_time']
    if self._config.timestamp_field and event_time is not None:
      yield beam.pvalue.TaggedOutput(OBSERVATIONS_TAG,
                                     beam_window.TimestampedValue(obs, event_time))
    else:
      yield beam.pvalue.TaggedOutput(OBSERVATIONS_TAG, obs)
    failures = outcome['failures']
    if outcome['dead']:
      self._dead.inc()
      dead = [(rule, reason) for rule, reason in failures if rule.action == 'dead_letter']
      first = dead[0][0]
      message = '; '.join(f'{rule.id} ({rule.kind}{"" if rule.action == "dead_letter" else ", flag"}): {reason}'
                          for rule, reason in failures)
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          json.dumps(without_source_id(row), ensure_ascii=False, sort_keys=True, default=str),
          stage='quality', error_type=first.error_type, message=message,
          source_id=source_id_of(row), pipeline=self._pipeline_name, event_time=event_time))
      return
    if failures:
      self._flagged.inc()
    flag_field = self._config.flag_field
    if flag_field:
      row = dict(row)
      row[flag_field] = [rule.id for rule, _ in failures]
    yield row


class CheckQuality(beam.PTransform):
  """Applies data-quality rules to rows (dicts in BigQuery JSON form).

  Outputs a ``QualityResult``:
    rows: rows that failed no ``dead_letter`` rule, unchanged (plus the ``flag_field``
      column listing the ``flag`` rules they failed, when configured), in their own
      windows and timestamps;
    dead_letters: one per row failing a ``dead_letter`` rule: stage ``quality``, errorType
      ``quality:<first failing dead_letter rule id>``, payload = the row as JSON, message
      naming every failed rule;
    scores: one quality-table row per window (``beam_pipelines.transforms.quality.scores``): windows of
      ``window_seconds`` over the event time (``timestamp_field`` or the element
      timestamp), or one row for the whole (bounded) input without a window.

  Counters (``quality/...``): ``rows``, ``dead_letters``, ``flagged``, ``<rule>_checked``,
  ``<rule>_failed``, ``<score>_checked``, ``<score>_failed``, ``windows_scored``; gauges
  ``window_<score>_permille`` (the latest window's score x 1000).

  Raises ValueError at construction for a bad rule set, and at expansion for unbounded
  input without ``window_seconds`` (scores would never be emitted).

  Args:
    config: the rules: a file path, YAML/JSON text, a dict or a ``QualityConfig``.
    schema: optional: the rows' table schema, to check the rules' field paths against
      (keyword-only; a path, the JSON or a ``TableSchema``).
    pipeline_name: recorded in each dead letter (default: the pipeline's options).

  Input: rows (dicts or ``beam.Row``s); another kind of element is a dead letter
  ``unsupported_element:<kind>``.

  Example::

      q = rows | CheckQuality('rules.yaml')
      q.rows | WriteRowsToBigQuery(schema, ...); q.scores | WriteRowsToBigQuery(
          quality_table_schema(), quality table config)
  """

  def __init__(self, config, *, schema=None, pipeline_name=None, clock=None, label=None):
    super().__init__(label)
    self._config = load_quality_rules(config, schema=schema)
    if not isinstance(self._config, QualityConfig):
      raise ValueError(f'config must be a QualityConfig, got {type(self._config).__name__}')
    self._schema = schema
    self._pipeline_name = pipeline_name
    self._clock = clock

  @property
  def config(self):
    return self._config

  def expand(self, rows):
    config = self._config
    if not rows.is_bounded and config.window_seconds is None:
      raise ValueError('quality rules: window_seconds is required for unbounded (streaming) '
                       'input: scores are emitted per window')
    name = pipeline_name_of(rows.pipeline, self._pipeline_name)
    checked = rows | 'CheckRules' >> beam.ParDo(
        _CheckRowRulesFn(config, self._clock, name)).with_outputs(DEAD_LETTER_TAG, main='pairs')
    pairs = checked.pairs
    for rule in config.unique_rules:
      keyed = pairs | f'KeyFor_{rule.id}' >> beam.ParDo(
          KeyForUniqueFn(rule, config.window_seconds)).with_output_types(
              Tuple[str, Any]).with_outputs(
              KeyForUniqueFn.SKIP, main='keyed')
      marked = keyed.keyed | f'Unique_{rule.id}' >> beam.ParDo(MarkDuplicatesFn(
          rule, config.window_seconds, config.allowed_lateness_seconds))
      pairs = (marked, keyed[KeyForUniqueFn.SKIP]) | f'Merge_{rule.id}' >> beam.Flatten()
    routed = pairs | 'Route' >> beam.ParDo(_RouteFn(config, name)).with_outputs(
        DEAD_LETTER_TAG, OBSERVATIONS_TAG, main=ROWS_TAG)
    if config.window_seconds:
      windowing = beam_window.FixedWindows(config.window_seconds)
    else:
      windowing = beam_window.GlobalWindows()
    scores = (
        routed[OBSERVATIONS_TAG]
        | 'ScoreWindows' >> beam.WindowInto(
            windowing, allowed_lateness=config.allowed_lateness_seconds)
        | 'CombineScores' >> beam.CombineGlobally(
            ScoreCombineFn(len(config.rules))).without_defaults()
        | 'ScoreRows' >> beam.ParDo(ScoreRowFn(config.rules, name, self._clock))
        | 'ScoresToGlobalWindow' >> beam.WindowInto(beam_window.GlobalWindows()))
    rows_out = routed[ROWS_TAG]
    rows_out.element_type = RowDict
    dead_letters = typed_dead_letters(
        (checked[DEAD_LETTER_TAG], routed[DEAD_LETTER_TAG]) | 'DeadLetters' >> beam.Flatten())
    schema = self._schema if self._schema is not None else schema_of(rows)
    if schema is not None:
      schema = quality_output_schema(schema, config)  # plus the flag_field column
    return QualityResult(rows=remember_schema(rows_out, schema),
                         dead_letters=dead_letters, scores=scores)
