"""The batch single-pane path of ``WindowAndAggregate``, and event-time parsing.

Bounded input with fixed or sliding windows and no count-based early firings gives every
(key, window) exactly one pane, the ON_TIME one, so the window can travel in the key: one
DoFn turns a row into ``((key, window start, window end), row)`` per window, the combine
runs in the global window (lifted into the fused stage before the shuffle, no per-window
trigger state or timers, which the FnApiRunner's GroupByKey processes in time quadratic in
the windows per key) and the result is formatted as the windowed path would format it
(``tests/unit/test_windowing_batch_fast_path.py`` compares both paths column by column).

Windows are computed in integer microseconds with exactly Beam's arithmetic
(``FixedWindows.assign``, ``SlidingWindows.assign``) instead of building ``Timestamp`` and
``IntervalWindow`` objects per row: this step runs once per row of a batch run.
"""

import datetime
import json

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window as beam_window
from apache_beam.utils.timestamp import Timestamp

from transforms.aggregates import column_name, key_getter, path_getter
from transforms.errors import DEAD_LETTER_TAG, format_timestamp, make_dead_letter

_MICROS = 1_000_000
_EPOCH_NAIVE = datetime.datetime(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH_NAIVE.toordinal()


def _validated_micros(value):
  """Exact microseconds of the validated TIMESTAMP form ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
  (the C ISO parser, then integers), or None for any other value."""
  if (type(value) is str and len(value) == 27 and value[26] == 'Z'  # pylint: disable=unidiomatic-typecheck
      and value[19] == '.' and value.isascii()):
    try:
      m = datetime.datetime.fromisoformat(value[:26])
    except ValueError:
      return None
    return (((m.toordinal() - _EPOCH_ORDINAL) * 86400 + m.hour * 3600 + m.minute * 60
             + m.second) * _MICROS + m.microsecond)
  return None


def parse_event_time(value):
  """A TIMESTAMP value (validated RFC 3339 text, or seconds since the epoch) -> seconds."""
  if isinstance(value, bool):
    raise ValueError('a boolean is not a timestamp')
  if isinstance(value, (int, float)):
    return float(value)
  micros = _validated_micros(value)
  if micros is not None:
    return micros / _MICROS
  return Timestamp.from_rfc3339(str(value).replace(' ', 'T')).micros / _MICROS


def event_time_micros(value):
  """The event time in whole microseconds since the epoch.

  The validated form is converted exactly, in integers (``Timestamp.of`` of the float
  seconds can land one microsecond early); anything else as ``Timestamp.of`` would.
  """
  micros = _validated_micros(value)
  return micros if micros is not None else int(parse_event_time(value) * _MICROS)


def micros_assigner(window_fn):
  """micros -> [(start, end)] for a FixedWindows or SlidingWindows, else None."""
  if isinstance(window_fn, beam_window.FixedWindows):
    size, offset = window_fn.size.micros, window_fn.offset.micros

    def fixed(micros):
      start = micros - (micros - offset) % size
      return ((start, start + size),)
    return fixed
  if isinstance(window_fn, beam_window.SlidingWindows):
    size, period = window_fn.size.micros, window_fn.period.micros
    offset = window_fn.offset.micros

    def sliding(micros):
      start = micros - (micros - offset) % period
      return tuple((s, s + size) for s in range(start, micros - size, -period))
    return sliding
  return None


class EventTimeFn(beam.DoFn):
  """Shared by the windowing DoFns that read the event time: config and dead letters."""

  def __init__(self, window_config, aggregate_config, pipeline_name):
    self._field = window_config.event_time_field
    self._keys = aggregate_config.key_fields
    self._pipeline_name = pipeline_name
    self._bad = Metrics.counter('window', 'invalid_event_time')

  def _dead(self, row, kind, reason):
    self._bad.inc()
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
        json.dumps(row, ensure_ascii=False, default=str), stage='window',
        error_type=f'{kind}:{self._field}', message=reason, pipeline=self._pipeline_name))


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

  def process(self, row):
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

  def process(self, row, timestamp=beam.DoFn.TimestampParam):
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
      text = self._texts[micros] = format_timestamp(micros / _MICROS)
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
