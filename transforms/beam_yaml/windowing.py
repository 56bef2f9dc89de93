"""Beam YAML wrappers of windowed aggregation (``WindowAndAggregate``) and of ``ToBeamRows``."""

from typing import Any, Optional

import apache_beam as beam

from beam_pipelines.transforms.beam_yaml.elements import outputs_of, schema_setting
from beam_pipelines.transforms.core.beam_rows import ToBeamRows
from beam_pipelines.transforms.core.outputs import remember_schema, schema_of
from beam_pipelines.transforms.windowing.settings import window_and_aggregate
from beam_pipelines.transforms.windowing.transform import WindowAndAggregate


class WindowAndAggregateRows(beam.PTransform):
  """Windows rows by event time and aggregates them per key and window
  (``WindowAndAggregate``); every setting of the command line's ``--window`` flags.

  Args:
    window: fixed, sliding or session.
    window_size, window_period, session_gap: durations (30s, 5m, 1h).
    event_time_field: the TIMESTAMP field holding the event time (default: the element's).
    allowed_lateness: how long after a window ends late rows still update it.
    early_firing_after, early_firing_count, late_firing_count, accumulation, late_capture,
    late_gate_shards: triggers and the late-data gate, as the command line's flags.
    aggregate_keys, aggregate_sum, aggregate_min, aggregate_max, aggregate_distinct: field
      lists (comma-separated text or a list).
    schema: the rows' table schema, or ``derived`` (the default): the input rows' schema.
    pipeline_name: written to each dead letter.
  Outputs ``rows`` (aggregate rows; their schema is known to a sink given ``derived``) and
  ``dead_letters`` (late data, missing or invalid event times).
  """

  def __init__(self, window: str, schema: Any = 'derived', pipeline_name: Optional[str] = None,
               **settings):
    super().__init__()
    self._schema = schema_setting(schema)
    self._window, self._aggregate = window_and_aggregate(
        None, window=window, **{k: v for k, v in settings.items() if v is not None})
    self._pipeline_name = pipeline_name
    self._transform = None
    if self._schema is not None:
      self._transform = WindowAndAggregate(self._schema, self._window, self._aggregate,
                                           pipeline_name=pipeline_name)

  def expand(self, rows):
    transform = self._transform or WindowAndAggregate(
        None, self._window, self._aggregate, pipeline_name=self._pipeline_name)
    result = rows | transform
    global_rows = result.rows | 'ToGlobalWindow' >> beam.WindowInto(
        beam.window.GlobalWindows())
    return {'rows': remember_schema(global_rows, schema_of(result.rows)),
            'dead_letters': result.dead_letters}


class ToBeamRowsYaml(beam.PTransform):
  """Rows -> Beam Rows with a schema (``ToBeamRows``), for YAML's schema-aware transforms
  (``Filter``, ``Combine``, ``MapToFields``, ``Sql``).

  Args:
    schema: the rows' table schema, or ``derived`` (the default).
    pipeline_name: written to each dead letter.
  Outputs ``rows`` (schema'd Rows) and ``dead_letters``.
  """

  def __init__(self, schema: Any = 'derived', pipeline_name: Optional[str] = None):
    super().__init__()
    self._transform = ToBeamRows(schema_setting(schema), pipeline_name=pipeline_name)

  def expand(self, rows):
    return outputs_of(rows | self._transform)
