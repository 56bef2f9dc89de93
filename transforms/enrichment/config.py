"""Enrichment configuration and the lookup index (the pure-Python half of EnrichWithSideInput).

``EnrichmentConfig`` validates every argument at construction; ``build_index`` turns lookup
records into the dict the joins use, applying the duplicate-key rule. See
``beam_pipelines.transforms.enrichment`` for the transform and the policies' documentation.
"""

import json
import logging
import math
from dataclasses import dataclass
from typing import Optional, Tuple

from apache_beam.metrics import Metrics

from beam_pipelines.transforms.enrichment.sources.base import LookupSource, LookupSourceError

_LOG = logging.getLogger(__name__)

MISSING_POLICIES = ('keep', 'dead_letter', 'drop')
COLLISION_POLICIES = ('lookup_wins', 'row_wins', 'error')
DUPLICATE_POLICIES = ('last_wins', 'error')
MODES = ('broadcast', 'keyed')
REFRESH_TIMES = ('processing', 'event')
REFRESH_STRATEGIES = ('auto', 'worker', 'side_input')
# Runners whose refreshing lookup is a periodic side input under refresh_strategy='auto'
# (Dataflow runs the refresh impulse alongside the rows); every other runner reloads in the
# join step itself ('worker'), which any runner can execute.
SIDE_INPUT_RUNNERS = ('DataflowRunner', 'TestDataflowRunner')
# The Python DirectRunner family: Beam 2.77 cannot run the refresh impulse there.
DIRECT_RUNNERS = ('DirectRunner', 'SwitchingDirectRunner', 'BundleBasedDirectRunner',
                  'TestDirectRunner')
DEFAULT_REFRESH_HORIZON_SECONDS = 7 * 24 * 3600
MIN_REFRESH_SECONDS = 1.0
NAMESPACE = 'enrich'
_UNKEYED_TAG = 'unkeyed'


def _as_tuple(value, name):
  if value is None:
    return None
  if isinstance(value, str):
    value = (value,)
  try:
    return tuple(value)
  except TypeError:
    raise ValueError(f'{name} must be a sequence of strings, got {value!r}') from None


def _check_paths(paths, name):
  for path in paths:
    if not isinstance(path, str) or not path or any(not p for p in path.split('.')):
      raise ValueError(f'{name}: {path!r} is not a field name or dotted path')
  if len(set(paths)) != len(paths):
    raise ValueError(f'{name}: duplicate entries in {list(paths)}')


@dataclass(frozen=True)
class EnrichmentConfig:
  """How rows are enriched. Every argument is checked here; errors name the argument.

  Attributes:
    source: a ``LookupSource`` (``FileLookupSource``, ``BigQueryLookupSource``).
    keys: row key paths, e.g. ``('country_code',)`` or ``('user.address.country', 'tier')``.
    lookup_keys: the matching lookup columns (dotted paths allowed), same length as
      ``keys``; default: the same paths as ``keys``.
    fields: lookup columns to add; default: every lookup column that is not a key.
    rename: ``((lookup_column, output_field), ...)``; renamed fields ignore ``prefix``.
    prefix: prepended to the output name of every field not renamed (``geo_``). A dotted
      lookup column's output name has its dots replaced by ``_``.
    missing: ``keep`` | ``dead_letter`` | ``drop``.
    collision: ``lookup_wins`` | ``row_wins`` | ``error``.
    duplicates: ``last_wins`` | ``error``.
    mode: ``broadcast`` | ``keyed``.
    refresh_seconds: streaming only: reload the lookup every N seconds (broadcast mode).
    refresh_strategy: how a refreshing lookup is reloaded: ``worker`` (each worker process
      holds the lookup in the join step and reloads it when it is older than
      ``refresh_seconds``; runs on every runner), ``side_input`` (a periodic impulse loads
      each version once and broadcasts it per refresh window; Dataflow and portable runners),
      or ``auto`` (the default: ``side_input`` on Dataflow or with ``refresh_time='event'``,
      ``worker`` elsewhere). See ``beam_pipelines.transforms.enrichment.transform``.
    refresh_horizon_seconds: side_input only: how long the refresh impulse runs (bounded on
      purpose).
    refresh_time: which time picks a row's lookup version: ``processing`` (the wall-clock
      time the row reaches the step; the default) or ``event`` (the row's own timestamp:
      replays join against the version of their event time, and rows older than the first
      refresh become ``enrichment_unavailable``).
    version_field: refreshing lookups only: an output field that records, in each enriched
      row, the version of the lookup it was joined with (the TIMESTAMP its read started).
    pipeline_name: recorded in dead letters.
  """
  source: LookupSource
  keys: Tuple[str, ...]
  lookup_keys: Optional[Tuple[str, ...]] = None
  fields: Optional[Tuple[str, ...]] = None
  rename: Tuple[Tuple[str, str], ...] = ()
  prefix: str = ''
  missing: str = 'keep'
  collision: str = 'lookup_wins'
  duplicates: str = 'last_wins'
  mode: str = 'broadcast'
  refresh_seconds: Optional[float] = None
  refresh_horizon_seconds: float = DEFAULT_REFRESH_HORIZON_SECONDS
  refresh_time: str = 'processing'
  refresh_strategy: str = 'auto'
  version_field: Optional[str] = None
  pipeline_name: Optional[str] = None

  def __post_init__(self):
    if not isinstance(self.source, LookupSource):
      raise ValueError(f'source must be a LookupSource, got {type(self.source).__name__}')
    keys = _as_tuple(self.keys, 'keys')
    if not keys:
      raise ValueError('keys must name at least one key field')
    _check_paths(keys, 'keys')
    lookup_keys = _as_tuple(self.lookup_keys, 'lookup_keys') or keys
    _check_paths(lookup_keys, 'lookup_keys')
    if len(lookup_keys) != len(keys):
      raise ValueError(f'lookup_keys must have as many entries as keys ({len(keys)}), '
                       f'got {len(lookup_keys)}')
    fields = _as_tuple(self.fields, 'fields')
    if fields is not None:
      if not fields:
        raise ValueError('fields must not be empty (leave it unset to add every column)')
      _check_paths(fields, 'fields')
    rename = self.rename
    if isinstance(rename, dict):
      rename = tuple(rename.items())
    rename = tuple(tuple(pair) for pair in (rename or ()))
    for pair in rename:
      if (len(pair) != 2 or not all(isinstance(p, str) and p for p in pair)
          or '.' in pair[1]):
        raise ValueError(f'rename: {pair!r} is not a (lookup_column, output_field) pair '
                         'with a top-level output field')
      if fields is not None and pair[0] not in fields:
        raise ValueError(f'rename: {pair[0]!r} is not one of fields {list(fields)}')
    if len({p[0] for p in rename}) != len(rename):
      raise ValueError('rename: a lookup column is renamed twice')
    if not isinstance(self.prefix, str) or '.' in self.prefix:
      raise ValueError(f'prefix must be a string without dots, got {self.prefix!r}')
    for name, value, allowed in (('missing', self.missing, MISSING_POLICIES),
                                 ('collision', self.collision, COLLISION_POLICIES),
                                 ('duplicates', self.duplicates, DUPLICATE_POLICIES),
                                 ('mode', self.mode, MODES),
                                 ('refresh_time', self.refresh_time, REFRESH_TIMES),
                                 ('refresh_strategy', self.refresh_strategy,
                                  REFRESH_STRATEGIES)):
      if value not in allowed:
        raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
    refresh = self.refresh_seconds
    if refresh is not None:
      if isinstance(refresh, bool) or not isinstance(refresh, (int, float)) or not (
          math.isfinite(refresh) and refresh >= MIN_REFRESH_SECONDS):
        raise ValueError(f'refresh_seconds must be a number >= {MIN_REFRESH_SECONDS}, '
                         f'got {refresh!r}')
      if self.mode == 'keyed':
        raise ValueError('mode: keyed joins cannot refresh (refresh_seconds needs mode '
                         'broadcast)')
      horizon = self.refresh_horizon_seconds
      if isinstance(horizon, bool) or not isinstance(horizon, (int, float)) or not (
          math.isfinite(horizon) and horizon >= refresh):
        raise ValueError(f'refresh_horizon_seconds must be a number >= refresh_seconds '
                         f'({refresh}), got {horizon!r}')
      if self.refresh_strategy == 'worker' and self.refresh_time == 'event':
        raise ValueError('refresh_time: event join times pick a version per event-time '
                         'window, which needs refresh_strategy side_input (a worker reload '
                         'serves the version the worker holds when the row arrives)')
    elif self.refresh_strategy != 'auto':
      raise ValueError(f'refresh_strategy: {self.refresh_strategy} needs refresh_seconds')
    if self.version_field is not None:
      if not isinstance(self.version_field, str) or not self.version_field or (
          '.' in self.version_field):
        raise ValueError(f'version_field must be a top-level field name, got '
                         f'{self.version_field!r}')
      if refresh is None:
        raise ValueError('version_field: only a refreshing lookup (refresh_seconds) has '
                         'versions to record')
    object.__setattr__(self, 'keys', keys)
    object.__setattr__(self, 'lookup_keys', lookup_keys)
    object.__setattr__(self, 'fields', fields)
    object.__setattr__(self, 'rename', rename)
    outputs = self.output_fields()
    if outputs is not None and len(set(outputs)) != len(outputs):
      raise ValueError(f'fields/rename/prefix: output field names collide: {list(outputs)}')
    if outputs is not None and self.version_field in outputs:
      raise ValueError(f'version_field: {self.version_field!r} is also a lookup output field')

  def output_name(self, column):
    """The row field a lookup column is written to."""
    renamed = dict(self.rename).get(column)
    return renamed if renamed else self.prefix + column.replace('.', '_')

  def output_fields(self):
    """The output field names when ``fields`` is set, else None (known only at load)."""
    if self.fields is None:
      return None
    return tuple(self.output_name(c) for c in self.fields)


def runner_name(runner):
  """A runner's class name from a runner object, class, or option text (``None``: the
  DirectRunner, Beam's default)."""
  if runner is None or runner == '':
    return 'DirectRunner'
  if not isinstance(runner, str):
    runner = runner.__name__ if isinstance(runner, type) else type(runner).__name__
  return runner.rsplit('.', 1)[-1]


def refresh_strategy_for(config, runner, has_ticks=False):
  """The refresh strategy a refreshing ``config`` runs with on ``runner`` (a name, object or
  None), after checking the runner can run it.

  Raises:
    ValueError: naming ``refresh_strategy`` or ``refresh_time`` when the runner cannot run
      that combination (the side-input refresh on the Python DirectRunner, whose SDF support
      lacks defer_remainder in Beam 2.77; processing-time side inputs on the FnApiRunner,
      which runs the refresh impulse to completion before any row).
  """
  name = runner_name(runner)
  strategy = config.refresh_strategy
  if has_ticks:
    if strategy == 'worker':
      raise ValueError('refresh_ticks: only refresh_strategy side_input takes refresh ticks')
    return 'side_input'
  if strategy == 'auto':
    strategy = ('side_input' if config.refresh_time == 'event' or name in SIDE_INPUT_RUNNERS
                else 'worker')
  if strategy == 'side_input' and name in DIRECT_RUNNERS:
    argument = 'refresh_strategy' if config.refresh_strategy == 'side_input' else 'refresh_time'
    raise ValueError(f'{argument}: the side-input refresh cannot run on the Python '
                     f'{name} (Beam 2.77 lacks defer_remainder for its refresh impulse); use '
                     'refresh_strategy worker with processing join times, or Dataflow')
  if strategy == 'side_input' and name == 'FnApiRunner' and config.refresh_time == 'processing':
    raise ValueError('refresh_strategy: a side-input refresh with processing join times '
                     'needs a runner that runs the refresh impulse alongside the rows (the '
                     'FnApiRunner runs it to completion first); use refresh_strategy worker')
  return strategy


def get_path(record, path):
  """The value at a dotted path of nested dicts, or None when any part is absent."""
  value = record
  for part in path.split('.'):
    if not isinstance(value, dict):
      return None
    value = value.get(part)
    if value is None:
      return None
  return value


def key_text(value):
  """A key value's text form, so ``42``, ``42.0`` and ``"42"`` match. None stays None."""
  if value is None:
    return None
  if isinstance(value, bool):
    return 'true' if value else 'false'
  if isinstance(value, float) and value.is_integer():
    return str(int(value))
  if isinstance(value, (dict, list)):
    return json.dumps(value, sort_keys=True, separators=(',', ':'))
  return str(value)


def _key_of(record, paths):
  return tuple(key_text(get_path(record, p)) for p in paths)


def _project(record, config):
  """The output fields of one lookup record: {output_name: value}."""
  if config.fields is not None:
    return {config.output_name(c): get_path(record, c) for c in config.fields}
  keys = set(config.lookup_keys)
  return {config.output_name(c): v for c, v in record.items() if c not in keys}


class _LookupCounters:
  def __init__(self):
    self.loads = Metrics.counter(NAMESPACE, 'loads')
    self.refreshes = Metrics.counter(NAMESPACE, 'refreshes')
    self.refresh_failures = Metrics.counter(NAMESPACE, 'refresh_failures')
    self.lookup_rows = Metrics.counter(NAMESPACE, 'lookup_rows')
    self.duplicate_keys = Metrics.counter(NAMESPACE, 'duplicate_keys')
    self.null_keys = Metrics.counter(NAMESPACE, 'lookup_null_keys')


def build_index(records, config, counters=None):
  """Lookup records -> ``{key tuple: {output field: value}}``, applying the duplicate rule.

  Raises:
    LookupSourceError: with ``duplicates='error'``, naming the key and both record numbers.
  """
  index = {}
  first_seen = {} if config.duplicates == 'error' else None
  rows = duplicates = null_keys = 0
  for ordinal, record in enumerate(records, start=1):
    rows += 1
    key = _key_of(record, config.lookup_keys)
    if any(part is None for part in key):
      null_keys += 1
      continue
    if key in index:
      if first_seen is not None:
        raise LookupSourceError(
            f'lookup {config.source.describe()}: duplicate key '
            f'{dict(zip(config.lookup_keys, key, strict=True))} at record {ordinal} '
            f'(first at record {first_seen[key]})')
      duplicates += 1
    elif first_seen is not None:
      first_seen[key] = ordinal
    index[key] = _project(record, config)
  if counters is not None:
    counters.lookup_rows.inc(rows)
    counters.duplicate_keys.inc(duplicates)
    counters.null_keys.inc(null_keys)
  return index
