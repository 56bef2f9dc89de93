"""The batch single-pane path of ``WindowAndAggregate``.

Bounded input with fixed or sliding windows and no count-based early firings gives every
(key, window) exactly one pane, the ON_TIME one, so the window can travel in the key: one
DoFn turns a row into ``((key, window start, window end), row)`` per window, the combine
runs in the global window (lifted into the fused stage before the shuffle, no per-window
trigger state or timers, which the FnApiRunner's GroupByKey processes in time quadratic in
the windows per key) and the result is formatted as the windowed path would format it
(``tests/unit/test_windowing_batch_fast_path.py`` compares both paths column by column).

Windows are computed in integer microseconds (``beam_pipelines.transforms.windowing.event_time``) instead of
building ``Timestamp`` and ``IntervalWindow`` objects per row: this step runs once per row of
a batch run.
"""

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window as beam_window
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.core.dead_letter import format_timestamp
from beam_pipelines.transforms.windowing.aggregates import column_name, key_getter, path_getter
from beam_pipelines.transforms.windowing.event_time import MICROS, EventTimeFn, event_time_micros, micros_assigner


class _KeyByWindowBase(EventTimeFn):
  def __init__(self, window_config, aggregate_config, pipeline_name):
    super().__init__(window_config, aggregate_config, pipeline_name)
    self._window_fn = window_config.window_fn()
    self._assign = micros_assigner(self._window_fn)
    self._key_of = key_getter(self._keys)
    self._event_time = path_getter(self._field) if self._field else None

  def _windows(self, micros, row):
    if self._assign is not None:
      return self._assign(micros)
    return tuple((w.start.micros, w.end.micros) for w in self._window_fn.assign(
        beam_window.WindowFn.AssignContext(Timestamp(micros=micros), element=row)))


class KeyByEventFieldWindowFn(_KeyByWindowBase):
  """row -> ((key, window start, window end), row) per window of its event-time field;
  ``missing_event_time`` / ``invalid_event_time`` dead letters as the windowed path."""

  def process(self, element):
    row, dead = self._as_row(element)
    if dead is not None:
      yield dead
      return
    value = self._event_time(row)
    if value is None:
      yield self._dead(row, 'missing_event_time',
                       f'event-time field {self._field} is missing or null')
      return
    try:
      micros = event_time_micros(value)
    except (ValueError, TypeError, OverflowError) as e:
      yield self._dead(row, 'invalid_event_time', f'event-time field {self._field}: {e}')
      return
    key = self._key_of(row)
    for start, end in self._windows(micros, row):
      yield ((key, start, end), row)


class KeyByElementTimeWindowFn(_KeyByWindowBase):
  """As ``KeyByEventFieldWindowFn`` for rows without an event-time field: the element's own
  timestamp places it (the only case that needs Beam's TimestampParam, which costs a slower
  DoFn invocation per element)."""

  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    row, dead = self._as_row(element)
    if dead is not None:
      yield dead
      return
    key = self._key_of(row)
    for start, end in self._windows(timestamp.micros, row):
      yield ((key, start, end), row)


def key_by_window_fn(window_config, aggregate_config, pipeline_name):
  cls = KeyByEventFieldWindowFn if window_config.event_time_field else KeyByElementTimeWindowFn
  return cls(window_config, aggregate_config, pipeline_name)


class FormatBatchAggregatesFn(beam.DoFn):
  """((key, start, end), aggregates) -> the row FormatAggregates writes for the single
  ON_TIME pane (index 0) of that window, timestamped at the window's end like
  OUTPUT_AT_EOW."""

  def __init__(self, config):
    self._config = config
    self._panes = Metrics.counter('window', 'panes_emitted')
    self._texts = {}

  def _text(self, micros):
    # Every key of a window formats the same two bounds: remember the last few thousand.
    text = self._texts.get(micros)
    if text is None:
      if len(self._texts) >= 4096:
        self._texts.clear()
      text = self._texts[micros] = format_timestamp(micros / MICROS)
    return text

  def process(self, element):
    (key, start, end), values = element
    self._panes.inc()
    row = {column_name(path): value
           for path, value in zip(self._config.key_fields, key, strict=True)}
    row['window_start'] = self._text(start)
    row['window_end'] = self._text(end)
    row['pane_timing'] = 'ON_TIME'
    row['pane_index'] = 0
    row.update(values)
    yield beam.window.TimestampedValue(row, Timestamp(micros=end - 1))
