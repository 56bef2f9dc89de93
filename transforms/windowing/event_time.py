"""Event time: reading a row's event-time field, and the DoFn base that stamps rows with it.

``parse_event_time`` accepts what a validated TIMESTAMP column holds (the canonical
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text, or epoch seconds); ``event_time_micros`` gives exact
integer microseconds, which the batch path computes windows with (``micros_assigner``: the
same arithmetic as Beam's ``FixedWindows``/``SlidingWindows``, without building objects per
row). ``EventTimeFn`` holds the shared settings and the ``missing_event_time`` /
``invalid_event_time`` dead letter.
"""

import datetime

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window as beam_window
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, make_dead_letter
from beam_pipelines.transforms.core.elements import (UnsupportedElement, payload_of, row_dict,
                                                     source_id_of,
                                                     unsupported_element_dead_letter)

MICROS = 1_000_000
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
             + m.second) * MICROS + m.microsecond)
  return None


def parse_event_time(value):
  """A TIMESTAMP value (validated RFC 3339 text, or seconds since the epoch) -> seconds."""
  if isinstance(value, bool):
    raise ValueError('a boolean is not a timestamp')
  if isinstance(value, (int, float)):
    return float(value)
  micros = _validated_micros(value)
  if micros is not None:
    return micros / MICROS
  return Timestamp.from_rfc3339(str(value).replace(' ', 'T')).micros / MICROS


def event_time_micros(value):
  """The event time in whole microseconds since the epoch.

  The validated form is converted exactly, in integers (``Timestamp.of`` of the float
  seconds can land one microsecond early); anything else as ``Timestamp.of`` would.
  """
  micros = _validated_micros(value)
  return micros if micros is not None else int(parse_event_time(value) * MICROS)


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
        payload_of(row), stage='window', error_type=f'{kind}:{self._field}', message=reason,
        source_id=source_id_of(row), pipeline=self._pipeline_name))

  def _as_row(self, element):
    """(row, None) for a dict or beam.Row; (None, dead letter) for anything else."""
    if isinstance(element, dict):
      return element, None
    try:
      return row_dict(element), None
    except UnsupportedElement:
      self._bad.inc()
      return None, beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
          element, 'window', 'WindowAndAggregate', 'rows (dicts or beam.Rows)',
          self._pipeline_name))
