"""The late-data gate: dead-letters an element only when the watermark has provably passed its
window's end plus the allowed lateness.

Why a gate: Beam's GroupByKey silently discards an element for a window once the input
watermark is past ``window.end + allowed_lateness`` (``trigger.py``,
``GeneralTriggerDriver.process_elements``), and user code cannot read the watermark. The gate
learns it the only way user code can: event-time timers. Per gate shard it arms one timer at
the earliest of (a) the expiry ``window.end + allowed_lateness`` of every window it has let an
element into and (b) a probe above the last known bound that climbs (x4 per firing) while
elements arrive; a timer firing at ``T`` proves the watermark is ``>= T``. An element is sent
to the dead letters (``late_data``) for each of its windows whose expiry is below that proven
bound, i.e. only windows the GroupByKey would drop. ``WindowAndAggregate`` gives the
GroupByKey ``allowed_lateness + late_capture`` (default ~100 years: it never drops), so an
element the gate could not yet prove late is aggregated (in a pane whose ``pane_timing`` is
``LATE``), never lost. Batch (bounded) pipelines skip the gate: nothing is late there. See
the docs' "Late data" section for the exact guarantee.
"""

import json
import zlib

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms import window as beam_window
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, format_timestamp, make_dead_letter
from beam_pipelines.transforms.core.elements import payload_of, source_id_of
from beam_pipelines.transforms.windowing.aggregates import get_path, key_of
from beam_pipelines.transforms.windowing.event_time import MICROS, EventTimeFn, parse_event_time

def window_text(start_micros, end_micros):
  return f'[{format_timestamp(start_micros / MICROS)}, {format_timestamp(end_micros / MICROS)})'


class AssignGateShardFn(EventTimeFn):
  """row -> (gate shard, (key, row)) stamped with the event time."""

  def __init__(self, window_config, aggregate_config, pipeline_name):
    super().__init__(window_config, aggregate_config, pipeline_name)
    self._shards = window_config.gate_shards

  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    row, dead = self._as_row(element)
    if dead is not None:
      yield dead
      return
    key = key_of(row, self._keys)
    shard = zlib.crc32(json.dumps(key).encode('utf-8')) % self._shards
    if self._field is None:
      yield (shard, (key, row))
      return
    value = get_path(row, self._field)
    if value is None:
      kind, reason = 'missing_event_time', f'event-time field {self._field} is missing or null'
    else:
      try:
        yield beam.window.TimestampedValue((shard, (key, row)), parse_event_time(value))
        return
      except (ValueError, TypeError, OverflowError) as e:
        kind, reason = 'invalid_event_time', f'event-time field {self._field}: {e}'
    yield self._dead(row, kind, reason)


class DetectLateDataFn(beam.DoFn):
  """The late-data gate (see the module docstring).

  State per shard: ``watermark`` (micros; the latest time a timer fired at, a proven
  lower bound of the input watermark), ``pending`` (expiries of windows elements were let
  into), ``step`` (the probe step) and ``active`` (elements arrived since the last firing).
  One event-time timer is armed at the earliest of the pending expiries (+1 µs, because
  Beam drops only when the watermark is strictly past the expiry) and a *probe* at
  ``watermark + step``. Each probe that fires multiplies the step by 4 (up to
  ``MAX_PROBE_STEP``), so after a watermark jump the gate climbs to it in a few timer
  rounds instead of window by window; a processing-time ``refine`` timer divides the step
  by 4 when a probe has not fired for ``REFINE_SECONDS`` (the probe overshot the watermark),
  so the bound tightens again. Probing stops when no element arrived since the last firing,
  so a drained pipeline (watermark at +inf) terminates.
  """
  WATERMARK = userstate.ReadModifyWriteStateSpec('watermark', VarIntCoder())
  ARMED = userstate.ReadModifyWriteStateSpec('armed', VarIntCoder())
  STEP = userstate.ReadModifyWriteStateSpec('step', VarIntCoder())
  ACTIVE = userstate.ReadModifyWriteStateSpec('active', VarIntCoder())
  PENDING = userstate.BagStateSpec('pending', VarIntCoder())
  EXPIRY = userstate.TimerSpec('expiry', TimeDomain.WATERMARK)
  REFINE = userstate.TimerSpec('refine', TimeDomain.REAL_TIME)
  MIN_PROBE_STEP = MICROS
  MAX_PROBE_STEP = 7 * 24 * 3600 * MICROS
  REFINE_SECONDS = 2.0

  def __init__(self, window_config, pipeline_name):
    self._window_fn = window_config.window_fn()
    self._lateness = int(round(window_config.allowed_lateness_seconds * MICROS))
    # Session windows have one expiry per element; rounding timers up to whole seconds
    # bounds the pending set (a timer firing later only makes the gate learn later).
    self._granularity = MICROS if window_config.kind == 'session' else 1
    self._pipeline_name = pipeline_name
    self._late = Metrics.counter('window', 'late_data')
    self._passed = Metrics.counter('window', 'on_time_or_within_lateness')

  def _expiry(self, window):
    return window.end.micros + self._lateness

  def _timer_time(self, expiry):
    g = self._granularity
    return -(-(expiry + 1) // g) * g

  def process(self, element, timestamp=beam.DoFn.TimestampParam,
              watermark=beam.DoFn.StateParam(WATERMARK), armed=beam.DoFn.StateParam(ARMED),
              step=beam.DoFn.StateParam(STEP), active=beam.DoFn.StateParam(ACTIVE),
              pending=beam.DoFn.StateParam(PENDING), expiry=beam.DoFn.TimerParam(EXPIRY),
              refine=beam.DoFn.TimerParam(REFINE)):
    _, (key, row) = element
    known = watermark.read()
    windows = self._window_fn.assign(
        beam_window.WindowFn.AssignContext(timestamp, element=row))
    live, expired = [], []
    for w in windows:
      (expired if known is not None and known > self._expiry(w) else live).append(w)
    if expired:
      self._late.inc()
      first = min(expired, key=lambda w: w.start)
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          payload_of(row), stage='window', source_id=source_id_of(row),
          error_type='late_data',
          message=(f'event at {format_timestamp(timestamp.micros / MICROS)} arrived after its '
                   f'window {window_text(first.start.micros, first.end.micros)} closed '
                   f'(allowed lateness {self._lateness / MICROS:g}s; watermark was at least '
                   f'{format_timestamp(known / MICROS)})'
                   + (f'; {len(expired)} of {len(windows)} windows missed, still counted in '
                      f'the other {len(live)}' if live else '')),
          attributes={'key': json.dumps(key), 'windows': ' '.join(
              window_text(w.start.micros, w.end.micros) for w in expired)},
          pipeline=self._pipeline_name, event_time=timestamp.micros / MICROS))
    active.write(1)
    current = set(pending.read())
    times = {self._timer_time(self._expiry(w)) for w in live}
    for t in sorted(times - current):
      pending.add(t)
    probe = (known + (step.read() or self.MIN_PROBE_STEP) if known is not None
             else timestamp.micros)
    candidates = (times | current | {probe})
    if armed.read() is not None:
      candidates.add(armed.read())
    earliest = min(candidates)
    if armed.read() != earliest:
      expiry.set(Timestamp(micros=earliest))
      armed.write(earliest)
      refine.set(Timestamp.now() + self.REFINE_SECONDS)
    if live:
      self._passed.inc()
    for w in live:
      yield (key, (w.start.micros, w.end.micros, row))

  @userstate.on_timer(EXPIRY)
  def on_expiry(self, fired=beam.DoFn.TimestampParam,
                watermark=beam.DoFn.StateParam(WATERMARK), armed=beam.DoFn.StateParam(ARMED),
                step=beam.DoFn.StateParam(STEP), active=beam.DoFn.StateParam(ACTIVE),
                pending=beam.DoFn.StateParam(PENDING), expiry=beam.DoFn.TimerParam(EXPIRY),
                refine=beam.DoFn.TimerParam(REFINE)):
    # Only the firing's own time is proven: the runner delivered it because the input
    # watermark had reached it (TimestampParam of a timer callback is the firing's time on
    # the BundleBasedDirectRunner, TimerFiring.timestamp, and on portable runners,
    # Timer.fire_timestamp). The armed time proves nothing: a firing can be stale. The
    # BundleBasedDirectRunner hands a due timer out again on each pass of its monitor until
    # the bundle delivering it commits, so a firing can arrive twice, the second time after
    # the first re-armed the timer for later (issue 22); a timer reset in the bundle that
    # delivers its firing is the same case on other runners.
    fired_at = fired.micros
    armed_at = armed.read()
    previous = watermark.read()
    known = fired_at if previous is None else max(previous, fired_at)
    watermark.write(known)
    if armed_at is not None and armed_at > known:
      # A stale firing: the armed timer is still ahead. Delivering this firing cleared it
      # on the BundleBasedDirectRunner (the timer of a key is cleared by name), so set it
      # again. Every pending expiry is >= armed_at > known: nothing else changes.
      expiry.set(Timestamp(micros=armed_at))
      return
    all_pending = set(pending.read())
    remaining = sorted(t for t in all_pending if t > known)
    pending.clear()
    for t in remaining:
      pending.add(t)
    current_step = step.read() or self.MIN_PROBE_STEP
    if fired_at not in all_pending:  # a probe fired: the watermark may be far ahead, climb
      current_step = min(current_step * 4, self.MAX_PROBE_STEP)
      step.write(current_step)
    candidates = set(remaining)
    if active.read():
      candidates.add(known + current_step)
      active.clear()
    if candidates:
      earliest = min(candidates)
      expiry.set(Timestamp(micros=earliest))
      armed.write(earliest)
      refine.set(Timestamp.now() + self.REFINE_SECONDS)
    else:
      armed.clear()

  @userstate.on_timer(REFINE)
  def on_refine(self, watermark=beam.DoFn.StateParam(WATERMARK),
                armed=beam.DoFn.StateParam(ARMED), step=beam.DoFn.StateParam(STEP),
                pending=beam.DoFn.StateParam(PENDING), expiry=beam.DoFn.TimerParam(EXPIRY),
                refine=beam.DoFn.TimerParam(REFINE)):
    # No event-time timer fired for REFINE_SECONDS: the probe is probably ahead of the
    # watermark. Bring it closer (moving a timer earlier is always safe) for a tighter bound.
    known, armed_at = watermark.read(), armed.read()
    current_step = step.read() or self.MIN_PROBE_STEP
    if known is None or armed_at is None or current_step <= self.MIN_PROBE_STEP:
      return
    current_step = max(current_step // 4, self.MIN_PROBE_STEP)
    step.write(current_step)
    earliest = min(set(pending.read()) | {armed_at, known + current_step})
    if earliest != armed_at:
      expiry.set(Timestamp(micros=earliest))
      armed.write(earliest)
    refine.set(Timestamp.now() + self.REFINE_SECONDS)
