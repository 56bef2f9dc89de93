"""CommitWindows: the windows a streaming commit groups by.

Continuous ingestion (``ReadFileNotifications``) commits once per fixed window of processing
time: a file's manifest entry, rows and dead letters all carry the window the file arrived
in (elements keep their window through the chain's per-element steps). Branches that
re-time their elements (windowed aggregates, dead letters of the window stage, quality
scores: all stamped with event time) go through ``CommitWindows`` again before they are
staged, so they land in the commit window they are produced in, not in an event-time
window that no commit would ever close.
"""

import time

import apache_beam as beam
from apache_beam.transforms.window import FixedWindows, GlobalWindows


def arrived(element):
  """``element`` stamped with the time it is processed (its arrival here)."""
  return beam.window.TimestampedValue(element, time.time())


class CommitWindows(beam.PTransform):
  """Stamps each element with the time it arrives here and windows it into fixed windows
  of ``interval_seconds`` (``CommitLoads`` commits once per window).

  Processing time, not the elements' own: an element stamped with an earlier time (a
  notification published while the pipeline was down, an aggregate of an old event window)
  would be behind the watermark and dropped as late by the commit's grouping.
  """

  def __init__(self, interval_seconds, label=None):
    super().__init__(label)
    if isinstance(interval_seconds, bool) or not isinstance(interval_seconds, (int, float)) \
        or not 0 < interval_seconds < float('inf'):
      raise ValueError(f'interval_seconds must be a number > 0, got {interval_seconds!r}')
    self._interval = interval_seconds

  def expand(self, pcoll):
    # Out of their windows first: a DoFn re-stamping an element makes the runner re-assign
    # its current windows (which a custom WindowFn carrying windows in elements refuses).
    return (pcoll
            | 'OutOfWindows' >> beam.WindowInto(GlobalWindows())
            | 'StampArrival' >> beam.Map(arrived).with_output_types(pcoll.element_type)
            | 'IntoWindows' >> beam.WindowInto(FixedWindows(self._interval)))
