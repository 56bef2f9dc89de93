"""Freshness of a window: how late rows arrive, and how old the newest event is.

Per row, the *lag* is processing time - event time (the quality step's clock when it checks
the row, minus the row's ``timestamp_field`` or element timestamp); rows without an event
time have no lag. Per window (the quality windows), the lags' p50, p95 and max and the
newest event time are combined with Beam's ``ApproximateQuantilesCombineFn`` (exact while a
window has fewer rows than its buffer, about 1% rank error beyond); the *age of the newest
event* is the time the window's row is computed minus its newest event time.

They are columns of the quality table (``FRESHNESS_FIELDS``) and Beam metrics:

- distribution ``freshness/lag_ms``: every row's lag (count, min, max, mean per run);
- gauges ``freshness/window_lag_p50_ms``, ``window_lag_p95_ms``, ``window_lag_max_ms``,
  ``newest_event_age_ms``: the latest window's values (Beam gauges hold integers).
"""

from apache_beam.metrics import Metrics
from apache_beam.transforms.stats import ApproximateQuantilesCombineFn

from beam_pipelines.transforms.core.dead_letter import format_timestamp

FRESHNESS_FIELDS = (
    {'name': 'lag_p50_seconds', 'type': 'FLOAT64', 'mode': 'NULLABLE',
     'description': 'median of processing time - event time over the window\'s rows'},
    {'name': 'lag_p95_seconds', 'type': 'FLOAT64', 'mode': 'NULLABLE',
     'description': '95th percentile of processing time - event time'},
    {'name': 'lag_max_seconds', 'type': 'FLOAT64', 'mode': 'NULLABLE',
     'description': 'largest processing time - event time'},
    {'name': 'newest_event_time', 'type': 'TIMESTAMP', 'mode': 'NULLABLE',
     'description': 'the newest event time seen in the window'},
    {'name': 'newest_event_age_seconds', 'type': 'FLOAT64', 'mode': 'NULLABLE',
     'description': 'computed_at - newest_event_time'},
)
FRESHNESS_COLUMNS = tuple(f['name'] for f in FRESHNESS_FIELDS)
# 21 quantiles: min, p5, p10, ..., p95, max.
_QUANTILES = 21
_P50, _P95, _MAX = 10, 19, 20


class LagStats:
  """The lag part of a quality window's accumulator: ``[quantile state, newest event]``."""

  def __init__(self):
    self._fn = ApproximateQuantilesCombineFn.create(num_quantiles=_QUANTILES)

  def create(self):
    return [self._fn.create_accumulator(), None]

  def add(self, acc, lag, event_time):
    if lag is not None:
      acc[0] = self._fn.add_input(acc[0], lag)
    if event_time is not None and (acc[1] is None or event_time > acc[1]):
      acc[1] = event_time
    return acc

  def merge(self, accs):
    accs = list(accs)
    newest = [a[1] for a in accs if a[1] is not None]
    return [self._fn.merge_accumulators([a[0] for a in accs]), max(newest) if newest else None]

  def columns(self, acc, now):
    """The window's freshness columns (None where no row had an event time)."""
    quantiles = self._fn.extract_output(acc[0])
    out = dict.fromkeys(FRESHNESS_COLUMNS)
    if quantiles:
      out['lag_p50_seconds'] = round(quantiles[_P50], 3)
      out['lag_p95_seconds'] = round(quantiles[_P95], 3)
      out['lag_max_seconds'] = round(quantiles[_MAX], 3)
    if acc[1] is not None:
      out['newest_event_time'] = format_timestamp(acc[1])
      out['newest_event_age_seconds'] = round(now - acc[1], 3)
    return out


class FreshnessMetrics:
  """The freshness metrics, made in a DoFn's ``setup``."""

  def __init__(self):
    self.lag = Metrics.distribution('freshness', 'lag_ms')
    self.gauges = {name: Metrics.gauge('freshness', f'window_{name}_ms')
                   for name in ('lag_p50', 'lag_p95', 'lag_max')}
    self.gauges['newest_event_age'] = Metrics.gauge('freshness', 'newest_event_age_ms')

  def row(self, lag):
    if lag is not None:
      self.lag.update(int(round(lag * 1000)))

  def window(self, columns):
    for name, gauge in self.gauges.items():
      value = columns.get(f'{name}_seconds')
      if value is not None:
        gauge.set(int(round(value * 1000)))
