"""Windowing as config: ``WindowConfig`` (fixed, sliding or session windows, the event-time
field, allowed lateness, the late-data gate's settings) and ``TriggerConfig`` (early and late
firings, accumulation mode). Both validate their arguments and raise ``ValueError`` naming
the bad one.
"""

from dataclasses import dataclass, field

from apache_beam.transforms import trigger as triggers
from apache_beam.transforms import window as beam_window

from beam_pipelines.transforms.core.shards import check_shards

WINDOW_KINDS = ('fixed', 'sliding', 'session')
ACCUMULATION_MODES = ('discarding', 'accumulating')
# Default: ~100 years, i.e. Beam's GroupByKey never drops (see docs/windowing.md 'Late data').
DEFAULT_LATE_CAPTURE_SECONDS = 100 * 365 * 24 * 3600.0


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
      at the price of the gap described in docs/windowing.md "Late data".
    gate_shards: the late-data gate is keyed by ``hash(key) % gate_shards``; each shard
      learns the watermark on its own. More shards spread load on Dataflow; fewer learn faster
      and cost Beam's local runner fewer bundles. None (the default): by runner, 2 on the
      DirectRunner, 16 elsewhere (``beam_pipelines.transforms.core.shards``).
  """
  kind: str = 'fixed'
  size_seconds: float | None = None
  period_seconds: float | None = None
  gap_seconds: float | None = None
  event_time_field: str | None = None
  allowed_lateness_seconds: float = 0.0
  trigger: TriggerConfig = field(default_factory=TriggerConfig)
  late_capture_seconds: float = DEFAULT_LATE_CAPTURE_SECONDS
  gate_shards: int | None = None

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
    check_shards(self.gate_shards, 'gate_shards')
    if not isinstance(self.trigger, TriggerConfig):
      raise ValueError(f'trigger must be a TriggerConfig, got {type(self.trigger).__name__}')

  def window_fn(self):
    if self.kind == 'fixed':
      return beam_window.FixedWindows(self.size_seconds)
    if self.kind == 'sliding':
      return beam_window.SlidingWindows(self.size_seconds, self.period_seconds)
    return beam_window.Sessions(self.gap_seconds)
