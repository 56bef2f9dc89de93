"""Event-time windowing as config, with late data sent to the dead letters, never dropped.

``WindowAndAggregate(window_config, aggregate_config, schema)`` takes validated rows and
returns a ``FallibleResult``: ``rows`` are aggregate rows (one per key, window and pane, see
``transforms.aggregates``) and ``dead_letters`` are rows that could not be aggregated:
``late_data`` (stage ``window``) for rows that arrived after their window closed for good,
``missing_event_time:<field>`` / ``invalid_event_time:<field>`` when the event-time field is
absent or unreadable.

Steps: ``AssignEventTime`` (key and event time) -> ``DetectLateData`` (a stateful DoFn, the
late-data gate) -> ``WindowInto`` (the windows the gate let through, the configured
trigger and accumulation mode) -> ``CombinePerKey`` -> ``FormatAggregates``.

Why a gate: Beam's GroupByKey silently discards an element for a window once the input
watermark is past ``window.end + allowed_lateness`` (``trigger.py``,
``GeneralTriggerDriver.process_elements``), and user code cannot read the watermark. The gate
learns it the only way user code can: event-time timers. Per gate shard it arms one timer at
the earliest of (a) the expiry ``window.end + allowed_lateness`` of every window it has let an
element into and (b) a probe above the last known bound that climbs (x4 per firing) while
elements arrive; a timer firing at ``T`` proves the watermark is ``>= T``. An element is sent
to the dead letters (``late_data``) for each of its windows whose expiry is below that proven
bound, i.e. only windows the GroupByKey would drop. The GroupByKey itself is given
``allowed_lateness + late_capture`` (default ~100 years: it never drops), so an element the
gate could not yet prove late is aggregated (in a pane whose ``pane_timing`` is ``LATE``),
never lost. Batch (bounded) pipelines skip the gate: nothing is late there. See README
"Late data" for the exact guarantee.
"""

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import trigger as triggers
from apache_beam.transforms import userstate
from apache_beam.transforms import window as beam_window
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.utils.timestamp import Duration, Timestamp

from transforms.aggregates import (AggregateConfig, AggregateFn, FormatAggregates, get_path, key_of)
from transforms.errors import (
  DEAD_LETTER_TAG,
  ROWS_TAG,
  FallibleResult,
  format_timestamp,
  make_dead_letter,
)
from transforms.schema import load_schema
from transforms.window_batch import (EventTimeFn, FormatBatchAggregatesFn, key_by_window_fn,
                                     parse_event_time)

WINDOW_KINDS = ('fixed', 'sliding', 'session')
ACCUMULATION_MODES = ('discarding', 'accumulating')
# Default: ~100 years, i.e. Beam's GroupByKey never drops (see README 'Late data').
DEFAULT_LATE_CAPTURE_SECONDS = 100 * 365 * 24 * 3600.0
_MICROS = 1_000_000


@dataclass(frozen=True)
class TriggerConfig:
  """When panes fire. The on-time pane fires when the watermark passes the window's end.

  Attributes:
    early_after_seconds: also fire early panes every this many seconds of processing time
      after the first element of a pane (before the window's end).
    early_after_count: also fire an early pane after every this many elements.
    late_after_count: after the on-time pane, fire a late pane after every this many late
      elements (within allowed lateness). Default 1: every late element updates its window.
    accumulation: ``discarding`` (each pane aggregates only its new elements) or
      ``accumulating`` (each pane aggregates everything so far in the window).
  """
  early_after_seconds: float | None = None
  early_after_count: int | None = None
  late_after_count: int = 1
  accumulation: str = 'discarding'

  def __post_init__(self):
    if self.early_after_seconds is not None and self.early_after_seconds <= 0:
      raise ValueError(f'early_after_seconds must be positive, got {self.early_after_seconds}')
    if self.early_after_count is not None and self.early_after_count < 1:
      raise ValueError(f'early_after_count must be >= 1, got {self.early_after_count}')
    if self.late_after_count < 1:
      raise ValueError(f'late_after_count must be >= 1, got {self.late_after_count}')
    if self.accumulation not in ACCUMULATION_MODES:
      raise ValueError(f'accumulation must be one of {ACCUMULATION_MODES}, '
                       f'got {self.accumulation!r}')

  def build(self, streaming=True):
    """The Beam trigger: AfterWatermark(early=..., late=AfterCount(late_after_count)).

    In a batch pipeline processing-time early firings are left out: there is no processing
    time to speak of (the whole input is there at once), and Beam's batch runners fail on
    AfterProcessingTime (the FnApiRunner's trigger driver has no clock).
    """
    early = []
    if self.early_after_seconds is not None and streaming:
      early.append(triggers.AfterProcessingTime(self.early_after_seconds))
    if self.early_after_count is not None:
      early.append(triggers.AfterCount(self.early_after_count))
    early_trigger = (early[0] if len(early) == 1 else triggers.AfterAny(*early)) if early \
        else None
    # A late trigger is always present: without one the trigger finishes at the on-time
    # pane and Beam would drop later elements silently.
    return triggers.AfterWatermark(early=early_trigger,
                                   late=triggers.AfterCount(self.late_after_count))

  def accumulation_mode(self):
    return (triggers.AccumulationMode.ACCUMULATING if self.accumulation == 'accumulating'
            else triggers.AccumulationMode.DISCARDING)


@dataclass(frozen=True)
class WindowConfig:
  """Event-time windows.

  Attributes:
    kind: ``fixed`` (size), ``sliding`` (size and period) or ``session`` (gap).
    size_seconds / period_seconds / gap_seconds: as the kind needs.
    event_time_field: dotted path of a TIMESTAMP field of the row that holds the event
      time. None: use the element's timestamp, i.e. what the source set (the Pub/Sub
      timestamp attribute, else publish time; for files, the read time).
    allowed_lateness_seconds: how long after a window's end late elements still update it.
    trigger: a TriggerConfig.
    late_capture_seconds: extra lateness given to the GroupByKey beyond allowed lateness,
      so elements the gate has not yet proven late are aggregated, not dropped. Default
      ~100 years (never drop); a smaller value bounds how long Beam keeps per-window state,
      at the price of the gap described in README "Late data".
    gate_shards: the late-data gate is keyed by ``hash(key) % gate_shards``; each shard
      learns the watermark on its own. More shards spread load on Dataflow; fewer learn faster.
  """
  kind: str = 'fixed'
  size_seconds: float | None = None
  period_seconds: float | None = None
  gap_seconds: float | None = None
  event_time_field: str | None = None
  allowed_lateness_seconds: float = 0.0
  trigger: TriggerConfig = field(default_factory=TriggerConfig)
  late_capture_seconds: float = DEFAULT_LATE_CAPTURE_SECONDS
  gate_shards: int = 16

  def __post_init__(self):
    if self.kind not in WINDOW_KINDS:
      raise ValueError(f'window kind must be one of {WINDOW_KINDS}, got {self.kind!r}')
    if self.kind in ('fixed', 'sliding') and not (self.size_seconds and self.size_seconds > 0):
      raise ValueError(f'size_seconds must be positive for {self.kind} windows, '
                       f'got {self.size_seconds}')
    if self.kind == 'sliding':
      if not (self.period_seconds and self.period_seconds > 0):
        raise ValueError(f'period_seconds must be positive for sliding windows, '
                         f'got {self.period_seconds}')
      if self.period_seconds > self.size_seconds:
        raise ValueError(f'period_seconds ({self.period_seconds}) must not exceed '
                         f'size_seconds ({self.size_seconds})')
    if self.kind == 'session' and not (self.gap_seconds and self.gap_seconds > 0):
      raise ValueError(f'gap_seconds must be positive for session windows, '
                       f'got {self.gap_seconds}')
    if self.allowed_lateness_seconds < 0:
      raise ValueError(f'allowed_lateness_seconds must be >= 0, '
                       f'got {self.allowed_lateness_seconds}')
    if self.late_capture_seconds < 0:
      raise ValueError(f'late_capture_seconds must be >= 0, got {self.late_capture_seconds}')
    if self.gate_shards < 1:
      raise ValueError(f'gate_shards must be >= 1, got {self.gate_shards}')
    if not isinstance(self.trigger, TriggerConfig):
      raise ValueError(f'trigger must be a TriggerConfig, got {type(self.trigger).__name__}')

  def window_fn(self):
    if self.kind == 'fixed':
      return beam_window.FixedWindows(self.size_seconds)
    if self.kind == 'sliding':
      return beam_window.SlidingWindows(self.size_seconds, self.period_seconds)
    return beam_window.Sessions(self.gap_seconds)


def _micros(ts):
  return Timestamp.of(ts).micros


def _window_text(start_micros, end_micros):
  return f'[{format_timestamp(start_micros / _MICROS)}, {format_timestamp(end_micros / _MICROS)})'


class _AssignEventTimeFn(EventTimeFn):
  """row -> (gate shard, (key, row)) stamped with the event time."""

  def __init__(self, window_config, aggregate_config, pipeline_name):
    super().__init__(window_config, aggregate_config, pipeline_name)
    self._shards = window_config.gate_shards

  def process(self, row, timestamp=beam.DoFn.TimestampParam):
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


class _DetectLateDataFn(beam.DoFn):
  """The late-data gate (see the module docstring).

  State per shard: ``watermark`` (micros; the time of the last timer that fired, a proven
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
  MIN_PROBE_STEP = _MICROS
  MAX_PROBE_STEP = 7 * 24 * 3600 * _MICROS
  REFINE_SECONDS = 2.0

  def __init__(self, window_config, pipeline_name):
    self._window_fn = window_config.window_fn()
    self._lateness = int(round(window_config.allowed_lateness_seconds * _MICROS))
    # Session windows have one expiry per element; rounding timers up to whole seconds
    # bounds the pending set (a timer firing later only makes the gate learn later).
    self._granularity = _MICROS if window_config.kind == 'session' else 1
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
          json.dumps(row, ensure_ascii=False, default=str), stage='window',
          error_type='late_data',
          message=(f'event at {format_timestamp(timestamp.micros / _MICROS)} arrived after its '
                   f'window {_window_text(first.start.micros, first.end.micros)} closed '
                   f'(allowed lateness {self._lateness / _MICROS:g}s; watermark was at least '
                   f'{format_timestamp(known / _MICROS)})'
                   + (f'; {len(expired)} of {len(windows)} windows missed, still counted in '
                      f'the other {len(live)}' if live else '')),
          attributes={'key': json.dumps(key), 'windows': ' '.join(
              _window_text(w.start.micros, w.end.micros) for w in expired)},
          pipeline=self._pipeline_name, event_time=timestamp.micros / _MICROS))
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
    # The timer that fired is the one armed (there is only one); its time is what the
    # watermark has passed. (TimestampParam of a timer differs between runners.)
    armed_at = armed.read()
    fired_at = armed_at if armed_at is not None else fired.micros
    previous = watermark.read()
    known = fired_at if previous is None else max(previous, fired_at)
    watermark.write(known)
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


class _AllWindowsFn(beam.DoFn):
  """(shard, (key, row)) -> (key, (start, end, row)) for each of the row's windows."""

  def __init__(self, window_fn):
    self._window_fn = window_fn

  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    _, (key, row) = element
    for w in self._window_fn.assign(beam_window.WindowFn.AssignContext(timestamp, element=row)):
      yield (key, (w.start.micros, w.end.micros, row))


def _single_pane_batch(window_config, rows):
  """True when a batch run gives each (key, window) exactly one, ON_TIME, pane: bounded
  input (nothing is late), a non-merging WindowFn and no count-based early firings
  (processing-time early firings are left out in batch anyway, see TriggerConfig.build)."""
  return (rows.is_bounded and not _is_streaming(rows.pipeline)
          and window_config.kind in ('fixed', 'sliding')
          and window_config.trigger.early_after_count is None)


class _CarriedWindows(beam_window.WindowFn):
  """Puts each ``(key, (start, end, row))`` in the window the gate chose; merges like the
  configured WindowFn (sessions merge, fixed and sliding do not)."""

  def __init__(self, base):
    self._base = base

  def assign(self, context):
    start, end, _ = context.element[1]
    return [beam_window.IntervalWindow(Timestamp(micros=start), Timestamp(micros=end))]

  def merge(self, merge_context):
    if self._base.is_merging():
      self._base.merge(merge_context)

  def is_merging(self):
    return self._base.is_merging()

  def get_window_coder(self):
    return self._base.get_window_coder()

  def get_transformed_output_time(self, window, input_timestamp):
    return self._base.get_transformed_output_time(window, input_timestamp)

  def __eq__(self, other):
    return type(self) is type(other) and self._base == other._base

  def __hash__(self):
    return hash((type(self), self._base))


def _is_streaming(pipeline):
  from apache_beam.options.pipeline_options import StandardOptions
  options = getattr(pipeline, '_options', None)
  return bool(options and options.view_as(StandardOptions).streaming)


class WindowAndAggregate(beam.PTransform):
  """Windows validated rows by event time and aggregates them per key, window and pane.

  Outputs a ``FallibleResult``: ``rows`` are aggregate rows (``transforms.aggregates``:
  key columns, ``window_start``, ``window_end``, ``pane_timing``, ``pane_index``,
  ``count`` and the configured sums, mins, maxes and distinct counts), ``dead_letters`` are
  rows excluded from aggregation (stage ``window``: ``late_data``,
  ``missing_event_time:<f>``, ``invalid_event_time:<f>``). The input rows themselves are
  untouched: write them to their table as usual. Counters: ``window/late_data``,
  ``window/on_time_or_within_lateness``, ``window/panes_emitted``.

  Example::

      aggregates = parsed.rows | WindowAndAggregate(
          WindowConfig('fixed', size_seconds=60, allowed_lateness_seconds=30),
          AggregateConfig(key_fields=('event_type',), sum_fields=('quantity',)),
          schema)
  """

  def __init__(self, window_config, aggregate_config, schema, pipeline_name=None, label=None):
    super().__init__(label)
    if not isinstance(window_config, WindowConfig):
      raise ValueError(f'window_config must be a WindowConfig, '
                       f'got {type(window_config).__name__}')
    if not isinstance(aggregate_config, AggregateConfig):
      raise ValueError(f'aggregate_config must be an AggregateConfig, '
                       f'got {type(aggregate_config).__name__}')
    self._window = window_config
    self._aggregate = aggregate_config
    self._schema = load_schema(schema)
    aggregate_config.check_against(self._schema)
    if window_config.event_time_field is not None:
      spec = self._schema.find(window_config.event_time_field)
      if spec is None or spec.type != 'TIMESTAMP' or spec.repeated:
        raise ValueError(f'event_time_field {window_config.event_time_field!r} must be a '
                         'non-repeated TIMESTAMP field of the schema')
    self._pipeline_name = pipeline_name

  def expand(self, rows):
    cfg = self._window
    if _single_pane_batch(cfg, rows):
      keyed = rows | 'KeyByEventWindow' >> beam.ParDo(key_by_window_fn(
          cfg, self._aggregate, self._pipeline_name)).with_output_types(
              tuple[Any, Any]).with_outputs(
              DEAD_LETTER_TAG, main=ROWS_TAG)
      return FallibleResult(rows=self._batch_aggregates(keyed[ROWS_TAG]),
                            dead_letters=keyed[DEAD_LETTER_TAG])
    timed = rows | 'AssignEventTime' >> beam.ParDo(_AssignEventTimeFn(
        cfg, self._aggregate, self._pipeline_name)).with_output_types(
            tuple[int, Any]).with_outputs(DEAD_LETTER_TAG, main=ROWS_TAG)
    if _is_streaming(rows.pipeline):
      gated = timed[ROWS_TAG] | 'DetectLateData' >> beam.ParDo(
          _DetectLateDataFn(cfg, self._pipeline_name)).with_input_types(
              tuple[int, Any]).with_output_types(tuple[Any, Any]).with_outputs(
                  DEAD_LETTER_TAG, main=ROWS_TAG)
      passed, late = gated[ROWS_TAG], gated[DEAD_LETTER_TAG]
    else:
      # Bounded input: the watermark reaches the end only after all input is read, so
      # nothing can be late and the stateful gate is not needed.
      passed = timed[ROWS_TAG] | 'AssignWindows' >> beam.ParDo(_AllWindowsFn(cfg.window_fn()))
      late = rows.pipeline | 'NoLateData' >> beam.Create([])
    aggregates = (
        passed
        | 'WindowInto' >> beam.WindowInto(
            _CarriedWindows(cfg.window_fn()),
            trigger=cfg.trigger.build(streaming=_is_streaming(rows.pipeline)),
            accumulation_mode=cfg.trigger.accumulation_mode(),
            allowed_lateness=Duration.of(cfg.allowed_lateness_seconds
                                         + cfg.late_capture_seconds),
            timestamp_combiner=beam_window.TimestampCombiner.OUTPUT_AT_EOW)
        | 'DropWindowBounds' >> beam.Map(lambda kv: (kv[0], kv[1][2]))
        | 'Aggregate' >> beam.CombinePerKey(AggregateFn(self._aggregate, self._schema))
        | 'FormatAggregates' >> beam.ParDo(FormatAggregates(self._aggregate)))
    dead_letters = ((timed[DEAD_LETTER_TAG], late)
                    | 'FlattenWindowDeadLetters' >> beam.Flatten())
    return FallibleResult(rows=aggregates, dead_letters=dead_letters)

  def _batch_aggregates(self, keyed):
    """Bounded input, fixed or sliding windows, no early panes: every (key, window) gets
    exactly one pane, the ON_TIME one, so the window can travel in the key. The combine runs
    in the global window (no per-window trigger state or timers, which the FnApiRunner's
    GroupByKey processes in time quadratic in the windows per key) and is lifted into the
    fused stage before the shuffle. Same rows as the windowed path (a test compares them)."""
    return (keyed
            | 'Aggregate' >> beam.CombinePerKey(AggregateFn(self._aggregate, self._schema))
            | 'FormatAggregates' >> beam.ParDo(FormatBatchAggregatesFn(self._aggregate)))
