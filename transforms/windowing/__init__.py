"""Event-time windowing and per-window aggregates, with late data dead-lettered, never lost.

- ``config``: ``WindowConfig`` and ``TriggerConfig``.
- ``transform``: ``WindowAndAggregate``, the PTransform.
- ``late_data``: the late-data gate (a stateful DoFn that learns the watermark from timers).
- ``aggregates``: ``AggregateConfig`` and the combine (count, sum, min, max, distinct).
- ``event_time``: reading an event-time field; ``batch``: the single-pane batch path.
"""

from beam_pipelines.transforms.windowing.aggregates import AggregateConfig, aggregate_schema
from beam_pipelines.transforms.windowing.config import (ACCUMULATION_MODES, DEFAULT_LATE_CAPTURE_SECONDS,
                                         WINDOW_KINDS, TriggerConfig, WindowConfig)
from beam_pipelines.transforms.windowing.transform import WindowAndAggregate

__all__ = ['ACCUMULATION_MODES', 'AggregateConfig', 'aggregate_schema', 'DEFAULT_LATE_CAPTURE_SECONDS',
           'TriggerConfig', 'WINDOW_KINDS', 'WindowAndAggregate', 'WindowConfig']
