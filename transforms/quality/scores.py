"""Per-window quality scores: a CombineFn over per-row observations, and the table schema.

Definitions (per window; a score is NULL when no rule of its kind checked anything):

- completeness = not_null checks passed / not_null checks (one check per row and rule);
- validity     = range + regex + allowed_values checks passed / such checks (a row counts
  once per rule when its value(s) were non-null; null values are completeness' business);
- uniqueness   = unique checks passed / unique checks (= distinct keys / rows with a key);
- freshness    = freshness checks passed / freshness checks (rows with an event time).

Each score row also carries ``rows`` (rows scored), ``dead_lettered``, ``flagged`` and one
entry per rule (checked / failed / pass_rate).
"""

import datetime
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow

from beam_pipelines.transforms.core.dead_letter import format_timestamp
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.quality.config import SCORES
from beam_pipelines.transforms.quality.freshness import FRESHNESS_FIELDS, FreshnessMetrics, LagStats

QUALITY_TABLE_FIELDS = (
    {'name': 'window_start', 'type': 'TIMESTAMP', 'mode': 'NULLABLE'},
    {'name': 'window_end', 'type': 'TIMESTAMP', 'mode': 'NULLABLE'},
    {'name': 'pipeline', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'computed_at', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'},
    {'name': 'pane', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'rows', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'dead_lettered', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'flagged', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'completeness', 'type': 'FLOAT64', 'mode': 'NULLABLE'},
    {'name': 'validity', 'type': 'FLOAT64', 'mode': 'NULLABLE'},
    {'name': 'uniqueness', 'type': 'FLOAT64', 'mode': 'NULLABLE'},
    {'name': 'freshness', 'type': 'FLOAT64', 'mode': 'NULLABLE'},
    *FRESHNESS_FIELDS,
    {'name': 'rules', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
        {'name': 'rule_id', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'kind', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'action', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'checked', 'type': 'INT64', 'mode': 'REQUIRED'},
        {'name': 'failed', 'type': 'INT64', 'mode': 'REQUIRED'},
        {'name': 'pass_rate', 'type': 'FLOAT64', 'mode': 'NULLABLE'},
    ]},
)

# BigQuery TIMESTAMP range; window bounds outside it (the global window, MIN timestamps) are NULL.
_MIN_TS = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
_MAX_TS = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc).timestamp()


_PANE_TIMING = {0: 'EARLY', 1: 'ON_TIME', 2: 'LATE', 3: 'UNKNOWN'}


def quality_table_schema():
  """The quality table's schema (a ``TableSchema``): one row per window and score set."""
  return load_schema({'fields': [dict(f) for f in QUALITY_TABLE_FIELDS]})


def observation(outcome, rule_ids):
  """The small per-row record the scores are combined from."""
  return {
      'dead': 1 if outcome['dead'] else 0,
      'flagged': 1 if (not outcome['dead'] and outcome['failures']) else 0,
      'checks': [list(outcome['checks'].get(rule_id, (0, 0))) for rule_id in rule_ids],
      'lag': outcome.get('lag'), 'event_time': outcome.get('event_time'),
  }


class ScoreCombineFn(beam.CombineFn):
  """Sums observations: [rows, dead, flagged, [[checked, failed] per rule], lag stats]
  (lag stats: ``beam_pipelines.transforms.quality.freshness.LagStats``)."""

  def __init__(self, n_rules):
    self._n = n_rules
    self._lags = LagStats()

  def create_accumulator(self):
    return [0, 0, 0, [[0, 0] for _ in range(self._n)], self._lags.create()]

  def add_input(self, acc, obs):
    acc[0] += 1
    acc[1] += obs['dead']
    acc[2] += obs['flagged']
    for pair, (checked, failed) in zip(acc[3], obs['checks'], strict=True):
      pair[0] += checked
      pair[1] += failed
    acc[4] = self._lags.add(acc[4], obs.get('lag'), obs.get('event_time'))
    return acc

  def merge_accumulators(self, accumulators):
    accumulators = list(accumulators)
    out = self.create_accumulator()
    for acc in accumulators:
      out[0] += acc[0]
      out[1] += acc[1]
      out[2] += acc[2]
      for pair, other in zip(out[3], acc[3], strict=True):
        pair[0] += other[0]
        pair[1] += other[1]
    out[4] = self._lags.merge(acc[4] for acc in accumulators)
    return out

  def extract_output(self, acc):
    return acc


def _rate(checked, failed):
  return None if not checked else round((checked - failed) / checked, 6)


def _bound(seconds):
  return format_timestamp(seconds) if _MIN_TS <= seconds <= _MAX_TS else None


class ScoreRowFn(beam.DoFn):
  """A combined accumulator -> one quality-table row for its window (and score and
  freshness gauges)."""

  def __init__(self, rules, pipeline_name, clock=None):
    self._rules = rules
    self._pipeline_name = pipeline_name
    self._clock = clock or time.time
    self._gauges = None
    self._lags = LagStats()

  def setup(self):
    self._gauges = {s: Metrics.gauge('quality', f'window_{s}_permille') for s in SCORES}
    self._windows = Metrics.counter('quality', 'windows_scored')
    self._freshness = FreshnessMetrics()

  def process(self, acc, window=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam):
    rows, dead, flagged, pairs, lags = acc
    per_score = {s: [0, 0] for s in SCORES}
    rules_out = []
    for rule, (checked, failed) in zip(self._rules, pairs, strict=True):
      per_score[rule.score][0] += checked
      per_score[rule.score][1] += failed
      rules_out.append({'rule_id': rule.id, 'kind': rule.kind, 'action': rule.action,
                        'checked': checked, 'failed': failed,
                        'pass_rate': _rate(checked, failed)})
    if isinstance(window, GlobalWindow):
      start = end = None
    else:
      start, end = _bound(float(window.start)), _bound(float(window.end))
    now = self._clock()
    row = {
        'window_start': start, 'window_end': end, 'pipeline': self._pipeline_name,
        'computed_at': format_timestamp(now),
        'pane': _PANE_TIMING.get(getattr(pane, 'timing', None)),
        'rows': rows, 'dead_lettered': dead, 'flagged': flagged, 'rules': rules_out,
    }
    for score, (checked, failed) in per_score.items():
      row[score] = _rate(checked, failed)
      if row[score] is not None:
        self._gauges[score].set(int(round(row[score] * 1000)))
    freshness = self._lags.columns(lags, now)
    self._freshness.window(freshness)
    row.update(freshness)
    self._windows.inc()
    yield row
