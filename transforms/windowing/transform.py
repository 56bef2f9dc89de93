"""Event-time windowing as config, with late data sent to the dead letters, never dropped.

``WindowAndAggregate(schema, window_config, aggregate_config)`` takes validated rows and
returns a ``FallibleResult``: ``rows`` are aggregate rows (one per key, window and pane, see
``beam_pipelines.transforms.windowing.aggregates``) and ``dead_letters`` are rows that could
not be aggregated:
``late_data`` (stage ``window``) for rows that arrived after their window closed for good,
``missing_event_time:<field>`` / ``invalid_event_time:<field>`` when the event-time field is
absent or unreadable.

Steps: ``AssignEventTime`` (key and event time) -> ``DetectLateData`` (a stateful DoFn, the
late-data gate) -> ``WindowInto`` (the windows the gate let through, the configured
trigger and accumulation mode) -> ``CombinePerKey`` -> ``FormatAggregates``.

The late-data gate is ``beam_pipelines.transforms.windowing.late_data``; batch (bounded) pipelines skip
it, and fixed/sliding windows without count-based early firings take the single-pane batch
path (``beam_pipelines.transforms.windowing.batch``).
"""

import dataclasses
from typing import Any

import apache_beam as beam
from apache_beam.transforms import window as beam_window
from apache_beam.utils.timestamp import Duration, Timestamp

from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult,
                                                        pipeline_name_of)
from beam_pipelines.transforms.core.elements import RowDict
from beam_pipelines.transforms.core.outputs import remember_schema, schema_of, typed_dead_letters
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.core.shards import stateful_shards
from beam_pipelines.transforms.windowing.aggregates import (AggregateConfig, AggregateFn,
                                                            FormatAggregates, aggregate_schema)
from beam_pipelines.transforms.windowing.batch import FormatBatchAggregatesFn, key_by_window_fn
from beam_pipelines.transforms.windowing.config import WindowConfig
from beam_pipelines.transforms.windowing.late_data import AssignGateShardFn, DetectLateDataFn


class _AllWindowsFn(beam.DoFn):
  """(shard, (key, row)) -> (key, (start, end, row)) for each of the row's windows."""

  def __init__(self, window_fn):
    self._window_fn = window_fn

  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    _, (key, row) = element
    for w in self._window_fn.assign(beam_window.WindowFn.AssignContext(timestamp, element=row)):
      yield (key, (w.start.micros, w.end.micros, row))


def single_pane_batch(window_config, rows):
  """True when a batch run gives each (key, window) exactly one, ON_TIME, pane: bounded
  input (nothing is late), a non-merging WindowFn and no count-based early firings
  (processing-time early firings are left out in batch anyway, see TriggerConfig.build)."""
  return (rows.is_bounded and not is_streaming(rows.pipeline)
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


def is_streaming(pipeline):
  from apache_beam.options.pipeline_options import StandardOptions
  options = getattr(pipeline, '_options', None)
  return bool(options and options.view_as(StandardOptions).streaming)


class WindowAndAggregate(beam.PTransform):
  """Windows validated rows by event time and aggregates them per key, window and pane.

  Args:
    schema: the rows' table schema (a path, the JSON or a ``TableSchema``); None: the schema
      the input rows were made with, when a suite transform made them.
    window_config: a ``WindowConfig`` (fixed/sliding/session, event-time field, lateness,
      trigger).
    aggregate_config: an ``AggregateConfig`` (keys, sums, mins, maxes, distinct counts).
    pipeline_name: recorded in each dead letter (default: the pipeline's options).

  Input: rows (dicts or ``beam.Row``s). Outputs a ``FallibleResult``: ``rows`` are aggregate
  rows (``beam_pipelines.transforms.windowing.aggregates``: key columns, ``window_start``,
  ``window_end``, ``pane_timing``, ``pane_index``, ``count`` and the configured sums, mins,
  maxes and distinct counts; schema ``aggregate_schema(schema, aggregate_config)``),
  ``dead_letters`` are rows excluded from aggregation (stage ``window``: ``late_data``,
  ``missing_event_time:<f>``, ``invalid_event_time:<f>``, each with the row's source id;
  ``unsupported_element:<kind>`` for an element that is not a row). The input rows
  themselves are untouched: write them to their table as usual. Counters:
  ``window/late_data``, ``window/on_time_or_within_lateness``, ``window/panes_emitted``.
  Raises ValueError at construction (or, for a derived schema, when applied) when a key,
  aggregate or event-time field is not a suitable field of the schema.

  Example::

      aggregates = parsed.rows | WindowAndAggregate(
          schema,
          WindowConfig('fixed', size_seconds=60, allowed_lateness_seconds=30),
          AggregateConfig(key_fields=('event_type',), sum_fields=('quantity',)))
  """

  def __init__(self, schema=None, window_config=None, aggregate_config=None, *,
               pipeline_name=None, label=None):
    super().__init__(label)
    if isinstance(schema, WindowConfig):  # the 0.1 order: (window, aggregate, schema)
      schema, window_config, aggregate_config = _old_order(schema, window_config,
                                                           aggregate_config)
    if not isinstance(window_config, WindowConfig):
      raise ValueError(f'window_config must be a WindowConfig, '
                       f'got {type(window_config).__name__}')
    if not isinstance(aggregate_config, AggregateConfig):
      raise ValueError(f'aggregate_config must be an AggregateConfig, '
                       f'got {type(aggregate_config).__name__}')
    self._window = window_config
    self._aggregate = aggregate_config
    self._schema = None if schema is None else self._checked(load_schema(schema))
    self._pipeline_name = pipeline_name

  def _checked(self, schema):
    self._aggregate.check_against(schema)
    field = self._window.event_time_field
    if field is not None:
      spec = schema.find(field)
      if spec is None or spec.type != 'TIMESTAMP' or spec.repeated:
        raise ValueError(f'event_time_field {field!r} must be a non-repeated TIMESTAMP field '
                         'of the schema')
    return schema

  @property
  def output_schema(self):
    """The aggregate rows' schema (None until the rows' schema is known)."""
    return None if self._schema is None else aggregate_schema(self._schema, self._aggregate)

  def expand(self, rows):
    cfg = self._window
    schema = self._schema
    if schema is None:
      if schema_of(rows) is None:
        raise ValueError('WindowAndAggregate: schema is required (the input rows were not '
                         'made by a transform of the suite that knows their schema)')
      schema = self._checked(schema_of(rows))
    name = pipeline_name_of(rows.pipeline, self._pipeline_name)
    out_schema = aggregate_schema(schema, self._aggregate)
    if single_pane_batch(cfg, rows):
      keyed = rows | 'KeyByEventWindow' >> beam.ParDo(key_by_window_fn(
          cfg, self._aggregate, name)).with_output_types(
              tuple[Any, Any]).with_outputs(
              DEAD_LETTER_TAG, main=ROWS_TAG)
      aggregates = self._batch_aggregates(keyed[ROWS_TAG], schema)
      return FallibleResult(rows=remember_schema(aggregates, out_schema),
                            dead_letters=typed_dead_letters(keyed[DEAD_LETTER_TAG]))
    cfg = dataclasses.replace(cfg, gate_shards=stateful_shards(rows.pipeline, cfg.gate_shards))
    timed = rows | 'AssignEventTime' >> beam.ParDo(AssignGateShardFn(
        cfg, self._aggregate, name)).with_output_types(
            tuple[int, Any]).with_outputs(DEAD_LETTER_TAG, main=ROWS_TAG)
    if is_streaming(rows.pipeline):
      gated = timed[ROWS_TAG] | 'DetectLateData' >> beam.ParDo(
          DetectLateDataFn(cfg, name)).with_input_types(
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
            trigger=cfg.trigger.build(streaming=is_streaming(rows.pipeline)),
            accumulation_mode=cfg.trigger.accumulation_mode(),
            allowed_lateness=Duration.of(cfg.allowed_lateness_seconds
                                         + cfg.late_capture_seconds),
            timestamp_combiner=beam_window.TimestampCombiner.OUTPUT_AT_EOW)
        | 'DropWindowBounds' >> beam.Map(lambda kv: (kv[0], kv[1][2]))
        | 'Aggregate' >> beam.CombinePerKey(AggregateFn(self._aggregate, schema))
        | 'FormatAggregates' >> beam.ParDo(
            FormatAggregates(self._aggregate)).with_output_types(RowDict))
    dead_letters = ((timed[DEAD_LETTER_TAG], late)
                    | 'FlattenWindowDeadLetters' >> beam.Flatten())
    return FallibleResult(rows=remember_schema(aggregates, out_schema),
                          dead_letters=typed_dead_letters(dead_letters))

  def _batch_aggregates(self, keyed, schema):
    """Bounded input, fixed or sliding windows, no early panes: every (key, window) gets
    exactly one pane, the ON_TIME one, so the window can travel in the key. The combine runs
    in the global window (no per-window trigger state or timers, which the FnApiRunner's
    GroupByKey processes in time quadratic in the windows per key) and is lifted into the
    fused stage before the shuffle. Same rows as the windowed path (a test compares them)."""
    return (keyed
            | 'Aggregate' >> beam.CombinePerKey(AggregateFn(self._aggregate, schema))
            | 'FormatAggregates' >> beam.ParDo(
                FormatBatchAggregatesFn(self._aggregate)).with_output_types(RowDict))


def _old_order(window_config, aggregate_config, schema):
  """(schema, window, aggregate) from a call in the 0.1 order (window, aggregate, schema)."""
  import warnings
  warnings.warn('WindowAndAggregate(window_config, aggregate_config, schema) is the argument '
                'order of 0.1 and goes in the next release: pass the schema first, '
                'WindowAndAggregate(schema, window_config, aggregate_config)',
                DeprecationWarning, stacklevel=4)
  return schema, window_config, aggregate_config
