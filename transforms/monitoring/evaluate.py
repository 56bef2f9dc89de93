"""``SlaEvaluator``: a window's metrics in, alerts out; the same code for batch and streaming.

A window's metrics (``window_metrics``) are what the quality table says of it plus the
dead letters of every stage in it: ``records`` (rows that reached the quality step and were
not dead-lettered there, plus the window's dead letters), ``dead_letters``, the four scores
and the freshness columns. The evaluator keeps, per rule, its anomaly detector and the
window of its last alert (for the cool-down); it is plain Python, so a stateful DoFn keeps it
in state (streaming) and a batch run feeds it the windows in order.

Windows with no rows at all never reach it; when a window arrives more than one window after
the last one, the windows between are checked as empty (volume 0) against the volume
``min``/``max`` rules first, so a gap in the data breaks them as soon as data flows again (or
at the end of a batch run). The anomaly detectors learn only windows that had data.
"""

import time

from beam_pipelines.transforms.monitoring.alerts import make_alert
from beam_pipelines.transforms.monitoring.detectors import AnomalyRule

# At most this many empty windows are filled in before a window (a restart after a long gap
# would otherwise flood the detectors).
MAX_GAP_WINDOWS = 1000
SCORE_NAMES = ('completeness', 'validity', 'uniqueness', 'freshness')


def window_metrics(window_start, window_end, quality_row=None, dead_letters=0):
  """The metrics of one window from its quality-table row (or None) and its dead letters."""
  quality_row = quality_row or {}
  rows = quality_row.get('rows') or 0
  quality_dead = quality_row.get('dead_lettered') or 0
  metrics = {
      'window_start': window_start, 'window_end': window_end,
      'rows': rows, 'dead_letters': dead_letters,
      'records': rows - quality_dead + dead_letters,
      'scores': {s: quality_row.get(s) for s in SCORE_NAMES},
      'pane': quality_row.get('pane'),
  }
  for name in ('lag_p50_seconds', 'lag_p95_seconds', 'lag_max_seconds',
               'newest_event_age_seconds'):
    metrics[name] = quality_row.get(name)
  return metrics


def _fmt(value):
  return f'{value:g}' if isinstance(value, (int, float)) else str(value)


class SlaEvaluator:
  """Checks SLA rules window by window (see the module docstring).

  ``evaluate(metrics)`` returns ``(alerts, suppressed)``: alert records, and how many
  breaches the cool-down kept quiet."""

  def __init__(self, slas, window_seconds=None, cooldown_seconds=0, pipeline=None,
               links=None, clock=None):
    self._slas = tuple(slas)
    self._window = window_seconds
    self._cooldown = cooldown_seconds or 0
    self._pipeline = pipeline
    self._links = links
    self._clock = clock or time.time
    self._anomaly = {r.id: AnomalyRule(r) for r in self._slas if r.anomaly}
    self._last_alert = {}
    self._last_window = None

  def evaluate(self, metrics):
    alerts, suppressed = [], 0
    start = metrics['window_start']
    if self._window and start is not None and self._last_window is not None:
      missing = int(round((start - self._last_window) / self._window)) - 1
      for i in range(1, min(missing, MAX_GAP_WINDOWS) + 1):
        gap_start = self._last_window + i * self._window
        got, quiet = self._check(window_metrics(gap_start, gap_start + self._window),
                                 kinds=('volume',), bounds_only=True)
        alerts += got
        suppressed += quiet
    if start is not None:
      self._last_window = start if self._last_window is None else max(self._last_window, start)
    got, quiet = self._check(metrics)
    return alerts + got, suppressed + quiet

  def evaluate_run(self, windows, unplaced_dead_letters=0):
    """Batch: the dead-letter rate of the whole run (window NULL), counting dead letters
    no window could hold (no event time) too. Returns alerts."""
    run = window_metrics(None, None, {
        'rows': sum(m['rows'] for m in windows),
        'dead_lettered': sum(m['rows'] - m['records'] + m['dead_letters'] for m in windows)},
        sum(m['dead_letters'] for m in windows) + unplaced_dead_letters)
    alerts, _ = self._check(run, kinds=('dead_letter_rate',))
    return alerts

  def _check(self, metrics, kinds=None, bounds_only=False):
    alerts, suppressed = [], 0
    for rule in self._slas:
      if (kinds is not None and rule.kind not in kinds) or (bounds_only and rule.anomaly):
        continue
      breach = getattr(self, '_' + rule.kind)(rule, metrics)
      if breach is None:
        continue
      if self._cooling(rule, metrics['window_start']):
        suppressed += 1
        continue
      observed, expected, message = breach
      alerts.append(make_alert(rule, metrics['window_start'], metrics['window_end'], observed,
                               expected, message, self._pipeline, self._links,
                               now=self._clock()))
      if metrics['window_start'] is not None:
        self._last_alert[rule.id] = metrics['window_start']
    return alerts, suppressed

  def _cooling(self, rule, start):
    cooldown = rule.cooldown_seconds if rule.cooldown_seconds is not None else self._cooldown
    last = self._last_alert.get(rule.id)
    return bool(cooldown) and start is not None and last is not None and (
        last <= start < last + cooldown)

  def _bounds(self, rule, observed, low, high, what):
    if low is not None and observed < low:
      return observed, f'>= {_fmt(low)}', f'{what} {_fmt(observed)} is below {_fmt(low)}'
    if high is not None and observed > high:
      return observed, f'<= {_fmt(high)}', f'{what} {_fmt(observed)} is above {_fmt(high)}'
    return None

  def _anomalous(self, rule, observed, what):
    detector = self._anomaly[rule.id]
    score, outlier = detector.check(observed)
    if not outlier:
      return None
    return (observed, f'{rule.anomaly} score < {_fmt(detector.threshold)}',
            f'{what} {_fmt(observed)} is anomalous ({rule.anomaly} score {score:.2f}, '
            f'threshold {_fmt(detector.threshold)})')

  def _freshness(self, rule, metrics):
    lag = metrics.get(f'lag_{rule.stat}_seconds')
    if rule.max_lag_seconds is not None and lag is not None and lag > rule.max_lag_seconds:
      return (lag, f'lag {rule.stat} <= {_fmt(rule.max_lag_seconds)} s',
              f'lag {rule.stat} {lag:.0f} s is above {_fmt(rule.max_lag_seconds)} s')
    age = metrics.get('newest_event_age_seconds')
    if rule.max_age_seconds is not None and age is not None and age > rule.max_age_seconds:
      return (age, f'newest event age <= {_fmt(rule.max_age_seconds)} s',
              f'newest event is {age:.0f} s old, more than {_fmt(rule.max_age_seconds)} s')
    return None

  def _volume(self, rule, metrics):
    records = metrics['records']
    if rule.anomaly:
      return self._anomalous(rule, records, 'volume')
    low, high = rule.expected_volume(self._window)
    return self._bounds(rule, records, low, high, 'volume')

  def _dead_letter_rate(self, rule, metrics):
    if not metrics['records']:
      return None
    rate = round(metrics['dead_letters'] / metrics['records'], 6)
    if rule.anomaly:
      return self._anomalous(rule, rate, 'dead-letter rate')
    return self._bounds(rule, rate, None, rule.max, 'dead-letter rate')

  def _quality_score(self, rule, metrics):
    scores = {k: v for k, v in metrics['scores'].items() if v is not None}
    if rule.score is not None:
      scores = {rule.score: scores[rule.score]} if rule.score in scores else {}
    if not scores:
      return None
    name = min(scores, key=lambda k: (scores[k], k))
    return self._bounds(rule, scores[name], rule.min, None, f'{name} score')
