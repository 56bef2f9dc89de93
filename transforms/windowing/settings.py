"""Windowing and aggregation from plain settings: the one conversion behind the command line's
``--window ...`` flags and Beam YAML's ``WindowAndAggregate`` config.

``window_and_aggregate(window='fixed', window_size='1m', aggregate_keys='event_type', ...)``
-> ``(WindowConfig, AggregateConfig)``. Durations are text (``30s``, ``5m``) or seconds;
field lists are comma-separated text or lists. A bad setting raises ``SettingError`` (a
ValueError) whose ``setting`` names it and whose message starts with its name, so the
command line can say ``--window_size: ...`` and YAML ``window_size: ...``.
"""

from beam_pipelines.transforms.core.durations import parse_duration
from beam_pipelines.transforms.windowing.aggregates import AggregateConfig
from beam_pipelines.transforms.windowing.config import (DEFAULT_LATE_CAPTURE_SECONDS,
                                                        WINDOW_KINDS, TriggerConfig,
                                                        WindowConfig)

# Every setting and its default: the command line's flags have the same names.
DEFAULTS = {
    'window': None, 'window_size': None, 'window_period': None, 'session_gap': None,
    'event_time_field': None, 'allowed_lateness': '0s', 'early_firing_after': None,
    'early_firing_count': None, 'late_firing_count': '1', 'accumulation': 'discarding',
    'late_capture': 'forever', 'late_gate_shards': 'auto', 'aggregate_keys': '',
    'aggregate_sum': '', 'aggregate_min': '', 'aggregate_max': '', 'aggregate_distinct': '',
}


class SettingError(ValueError):
  """A bad windowing setting; ``setting`` names it and the message starts with it."""

  def __init__(self, setting, message):
    super().__init__(message)
    self.setting = setting


def _unset(value):
  return value is None or (isinstance(value, str) and not value.strip())


def _duration(name, value):
  if _unset(value):
    return None
  try:
    return parse_duration(value)
  except ValueError as e:
    raise SettingError(name, f'{name}: {e}') from None


def _integer(name, value):
  if _unset(value):
    return None
  try:
    return int(value)
  except (TypeError, ValueError):
    raise SettingError(name, f'{name}: expected a whole number, got {value!r}') from None


def _shards(name, value):
  """'auto' (or unset): None, the runner's default; else a whole number."""
  if isinstance(value, str) and value.strip().lower() == 'auto':
    return None
  return _integer(name, value)


def field_list(value):
  """'a, b.c' or ['a', 'b.c'] -> ('a', 'b.c')."""
  if _unset(value):
    return ()
  items = value.split(',') if isinstance(value, str) else list(value)
  return tuple(str(f).strip() for f in items if str(f).strip())


_AGGREGATE_SETTINGS = {'key_fields': 'aggregate_keys', 'sum_fields': 'aggregate_sum',
                       'min_fields': 'aggregate_min', 'max_fields': 'aggregate_max',
                       'distinct_fields': 'aggregate_distinct'}


def _aggregate_step(fn, **kwargs):
  """Runs an AggregateConfig step; its ValueError names the setting its message is about."""
  try:
    return fn(**kwargs)
  except ValueError as e:
    name = _AGGREGATE_SETTINGS.get(str(e).split(':', 1)[0].strip(), 'aggregate_keys')
    raise SettingError(name, f'{name}: {e}') from None


def _build(name, fn, **kwargs):
  try:
    return fn(**kwargs)
  except SettingError:
    raise
  except ValueError as e:
    raise SettingError(name, f'{name}: {e}') from None


def window_and_aggregate(schema=None, **settings):
  """``(WindowConfig, AggregateConfig)`` from the settings of ``DEFAULTS`` (SettingError
  naming a bad one). With ``schema``, the key, aggregate and event-time fields are checked
  against it."""
  unknown = sorted(set(settings) - set(DEFAULTS))
  if unknown:
    raise SettingError(unknown[0], f'{unknown[0]}: not a windowing setting (known: '
                                   f'{", ".join(DEFAULTS)})')
  s = dict(DEFAULTS, **settings)
  kind = s['window']
  if _unset(kind):
    raise SettingError('window', f'window is required: one of {"|".join(WINDOW_KINDS)}')
  if kind not in WINDOW_KINDS:
    raise SettingError('window', f'window must be one of {"|".join(WINDOW_KINDS)}, got {kind!r}')
  trigger = _build('accumulation', TriggerConfig,
                   early_after_seconds=_duration('early_firing_after', s['early_firing_after']),
                   early_after_count=_integer('early_firing_count', s['early_firing_count']),
                   late_after_count=_integer('late_firing_count', s['late_firing_count']),
                   accumulation=s['accumulation'])
  size = _duration('window_size', s['window_size'])
  period = _duration('window_period', s['window_period'])
  gap = _duration('session_gap', s['session_gap'])
  if kind in ('fixed', 'sliding') and size is None:
    raise SettingError('window_size', f'window_size is required with window {kind}')
  if kind == 'sliding' and period is None:
    raise SettingError('window_period', 'window_period is required with window sliding')
  if kind == 'session' and gap is None:
    raise SettingError('session_gap', 'session_gap is required with window session')
  capture = s['late_capture']
  window = _build('window', WindowConfig, kind=kind, size_seconds=size,
                  period_seconds=period, gap_seconds=gap,
                  event_time_field=None if _unset(s['event_time_field'])
                  else s['event_time_field'],
                  allowed_lateness_seconds=_duration('allowed_lateness',
                                                     s['allowed_lateness']) or 0.0,
                  trigger=trigger,
                  late_capture_seconds=(DEFAULT_LATE_CAPTURE_SECONDS
                                        if str(capture).strip() == 'forever'
                                        else _duration('late_capture', capture) or 0.0),
                  gate_shards=_shards('late_gate_shards', s['late_gate_shards']))
  aggregate = _aggregate_step(AggregateConfig,
                     key_fields=field_list(s['aggregate_keys']),
                     sum_fields=field_list(s['aggregate_sum']),
                     min_fields=field_list(s['aggregate_min']),
                     max_fields=field_list(s['aggregate_max']),
                     distinct_fields=field_list(s['aggregate_distinct']))
  if schema is not None:
    _aggregate_step(aggregate.check_against, schema=schema)
    if window.event_time_field is not None:
      spec = schema.find(window.event_time_field)
      if spec is None or spec.type != 'TIMESTAMP' or spec.repeated:
        raise SettingError('event_time_field', f'event_time_field {window.event_time_field!r} '
                           'must be a non-repeated TIMESTAMP field of the schema')
  return window, aggregate
