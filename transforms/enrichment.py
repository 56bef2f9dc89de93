"""EnrichWithSideInput: join rows with a lookup table (file or BigQuery), static or refreshing.

Rows (dicts in BigQuery JSON form, as ``ParseAndValidate`` produces them) are joined on one
or more key fields (dotted paths into nested records allowed) with a lookup table read by a
``transforms.enrichment_sources`` source. Selected lookup columns are added to each row as
top-level fields, renamed or prefixed.

Modes:
- ``broadcast`` (default): the whole lookup is loaded once into a dict and handed to every
  worker as a singleton side input. Batch: loaded once. Streaming with ``refresh_seconds``:
  reloaded every N seconds (see "Refresh" below).
- ``keyed``: rows and lookup records are both keyed and joined with ``CoGroupByKey``; nothing
  is broadcast, so the lookup may be far larger than a worker's memory, at the price of a
  shuffle of every row (batch pipelines only; no refresh).
Both modes give the same result for the same input (tests check it).

Policies (all in ``EnrichmentConfig``):
- missing key (no lookup entry, or a key field missing/null in the row): ``keep`` the row with
  the selected output fields set to null, ``dead_letter`` it (stage ``enrich``, errorType
  ``enrichment_miss``, payload = the row as JSON), or ``drop`` it (counted in
  ``enrich/dropped``; the counting invariant includes it).
- collision (the row already has a non-null value for an output field, different from the
  lookup's non-null value): ``lookup_wins``, ``row_wins``, or ``error`` (dead letter
  ``enrichment_collision:<field>``). A null lookup value never erases a row's value.
- duplicate keys in the lookup: ``last_wins`` (the record read last — file order, BigQuery
  row order — wins; every overridden record counts in ``enrich/duplicate_keys``) or ``error``
  (the load fails with an error naming the key and both record numbers). Lookup records whose
  key is missing or null are skipped and counted in ``enrich/lookup_null_keys``.
Keys compare as text: ``42``, ``42.0`` and ``"42"`` match; ``true`` matches ``"true"``.

Refresh (streaming, broadcast mode): refresh ticks fire at the wall-clock instants
``a_k = k * N`` (epoch-aligned multiples of ``refresh_seconds``), from the last such instant
at or before the moment the pipeline starts running (no catch-up backlog) until
``refresh_horizon_seconds`` later (a bounded impulse, no far-future end timestamp). Tick ``k``
fires at wall-clock time >= ``a_k`` and loads the lookup once; that version is the side
input of the window ``[a_k, a_k+N)``. Each row gets a *join time* ``T`` — with
``refresh_time='processing'`` (default) the wall-clock time it reaches this step, with
``'event'`` its own timestamp — and is joined against the version of the window containing
``T``, waiting until that version is loaded. Hence, exactly:
  * a row with join time ``T`` sees the version loaded by tick ``floor(T/N)``, which read
    the source at or after ``a_k = floor(T/N)*N`` (never an older version, never a newer);
  * a change to the source completed before instant ``a_k`` is seen by every row whose join
    time is ``>= a_k``: staleness is at most ``N`` plus one load, and rows in the same window
    all see the same version (no row sees a half-loaded table);
  * a window holding more than one version (a re-delivered tick) uses the latest-loaded;
  * rows leave with their original timestamp and windowing. With ``processing`` join time
    a row waiting for its version is held at its processing-time stamp, so the upstream
    watermark may pass its original timestamp meanwhile (by about one load time at most):
    downstream event-time windows should allow that much lateness, or use ``event``.
After the horizon no version exists: rows become dead letters ``enrichment_unavailable``
(never silently unenriched), so set the horizon beyond the job's planned lifetime or update
the job before it ends; the same happens to ``refresh_time='event'`` rows older than the
first tick. A failed refresh re-emits the previous version of that worker
(``enrich/refresh_failures``); a failed first load fails the pipeline.

Counters (namespace ``enrich``): ``hits``, ``misses``, ``dropped``, ``dead_letters``,
``collisions``, ``loads``, ``refreshes``, ``refresh_failures``, ``lookup_rows``,
``duplicate_keys``, ``lookup_null_keys``, ``unavailable``.

Example::

    cfg = EnrichmentConfig(source=FileLookupSource('country_regions.csv'),
                           keys=('country_code',), fields=('region',))
    result = rows | 'Enrich' >> EnrichWithSideInput(cfg)
    result.rows | WriteRowsToBigQuery(...)
    result.dead_letters | WriteDeadLetters(...)
"""

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import ImpulseSeqGenDoFn
from apache_beam.utils.timestamp import Timestamp

from transforms.enrichment_sources import LookupSource, LookupSourceError
from transforms.errors import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult, format_exception,
                               make_dead_letter)

_LOG = logging.getLogger(__name__)

MISSING_POLICIES = ('keep', 'dead_letter', 'drop')
COLLISION_POLICIES = ('lookup_wins', 'row_wins', 'error')
DUPLICATE_POLICIES = ('last_wins', 'error')
MODES = ('broadcast', 'keyed')
REFRESH_TIMES = ('processing', 'event')
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
    refresh_horizon_seconds: how long the refresh impulse runs (bounded on purpose).
    refresh_time: which time picks a row's lookup version: ``processing`` (the wall-clock
      time the row reaches the step; the default) or ``event`` (the row's own timestamp:
      replays join against the version of their event time, and rows older than the first
      refresh become ``enrichment_unavailable``).
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
                                 ('refresh_time', self.refresh_time, REFRESH_TIMES)):
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
    object.__setattr__(self, 'keys', keys)
    object.__setattr__(self, 'lookup_keys', lookup_keys)
    object.__setattr__(self, 'fields', fields)
    object.__setattr__(self, 'rename', rename)
    outputs = self.output_fields()
    if outputs is not None and len(set(outputs)) != len(outputs):
      raise ValueError(f'fields/rename/prefix: output field names collide: {list(outputs)}')

  def output_name(self, column):
    """The row field a lookup column is written to."""
    renamed = dict(self.rename).get(column)
    return renamed if renamed else self.prefix + column.replace('.', '_')

  def output_fields(self):
    """The output field names when ``fields`` is set, else None (known only at load)."""
    if self.fields is None:
      return None
    return tuple(self.output_name(c) for c in self.fields)


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


class _LoadIndexFn(beam.DoFn):
  """One tick in, one lookup index (a dict) out. In refresh mode a failed reload re-emits the
  previous version of this worker instead of failing the pipeline."""

  def __init__(self, config, refreshing=False):
    self._config = config
    self._refreshing = refreshing
    self._counters = _LookupCounters()
    self._last = None

  def setup(self):
    from transforms.bigquery_endpoint import apply_emulator_endpoint
    apply_emulator_endpoint()

  def process(self, unused_tick):
    started = time.monotonic()
    try:
      index = build_index(self._config.source.read(), self._config, self._counters)
    except Exception as e:  # pylint: disable=broad-except
      if not self._refreshing or self._last is None:
        raise
      self._counters.refresh_failures.inc()
      _LOG.error('lookup refresh from %s failed, keeping the previous version: %s',
                 self._config.source.describe(), e)
      yield self._last
      return
    if self._refreshing:
      # (load time, index): a window may receive more than one version (a runner re-
      # delivering a tick, catch-up ticks); the join uses the latest-loaded one.
      index = (time.time(), index)
    self._counters.loads.inc()
    if self._refreshing:
      self._counters.refreshes.inc()
    self._last = index if self._refreshing else None
    _LOG.info('loaded a lookup version from %s in %.2f s', self._config.source.describe(),
              time.monotonic() - started)
    yield index


class _JoinFn(beam.DoFn):
  """The join rules shared by every mode: hits, misses, collisions."""

  def __init__(self, config):
    self._config = config
    self._hits = Metrics.counter(NAMESPACE, 'hits')
    self._misses = Metrics.counter(NAMESPACE, 'misses')
    self._dropped = Metrics.counter(NAMESPACE, 'dropped')
    self._dead = Metrics.counter(NAMESPACE, 'dead_letters')
    self._collisions = Metrics.counter(NAMESPACE, 'collisions')
    self._unavailable = Metrics.counter(NAMESPACE, 'unavailable')

  def _missing_key_fields(self, row):
    return [p for p in self._config.keys if get_path(row, p) is None]

  def join(self, row, entry, timestamp=None):
    """Yields the enriched row, a dead letter, or nothing (dropped) for one row.

    ``entry`` is the row's lookup entry or None for a miss.
    """
    config = self._config
    if entry is None:
      self._misses.inc()
      if config.missing == 'drop':
        self._dropped.inc()
        return
      if config.missing == 'dead_letter':
        absent = self._missing_key_fields(row)
        reason = (f'key field {", ".join(absent)} is missing or null' if absent else
                  f'no lookup entry in {config.source.describe()} for the key '
                  f'{", ".join(config.keys)}')
        yield self._dead_letter(row, 'enrichment_miss', reason, timestamp)
        return
      out = dict(row)
      for name in config.output_fields() or ():
        if out.get(name) is None:
          out[name] = None
      yield self._stamp(out, timestamp)
      return
    self._hits.inc()
    out = dict(row)
    for name, value in entry.items():
      current = out.get(name)
      if value is None:
        if current is None:
          out[name] = None
        continue
      if current is not None and current != value:
        self._collisions.inc()
        if config.collision == 'row_wins':
          continue
        if config.collision == 'error':
          yield self._dead_letter(
              row, f'enrichment_collision:{name}',
              f'field {name} has a value in the row and a different one in the lookup '
              f'{config.source.describe()}', timestamp)
          return
      out[name] = value
    yield self._stamp(out, timestamp)

  def unavailable(self, row, timestamp=None):
    self._unavailable.inc()
    return self._dead_letter(
        row, 'enrichment_unavailable',
        f'no version of the lookup {self._config.source.describe()} is loaded for the '
        'moment this row was processed (refresh horizon over, or no refresh ran)', timestamp)

  @staticmethod
  def _stamp(value, timestamp):
    return value if timestamp is None else window.TimestampedValue(value, timestamp)

  def _dead_letter(self, row, error_type, reason, timestamp, exc=None):
    self._dead.inc()
    record = make_dead_letter(
        json.dumps(row, sort_keys=True, default=str, ensure_ascii=False),
        stage='enrich', error_type=error_type, message=reason,
        stacktrace=format_exception(exc) if exc is not None else None,
        pipeline=self._config.pipeline_name)
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, self._stamp(record, timestamp))

  def _guarded(self, row, gen, timestamp=None):
    """Runs a join; an unexpected error of ours becomes a dead letter, never a crash."""
    try:
      yield from gen
    except LookupSourceError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      _LOG.exception('unexpected error enriching a row')
      yield self._dead_letter(row, 'internal_error', f'{type(e).__name__}: {e}', timestamp,
                              exc=e)


class _BroadcastJoinFn(_JoinFn):
  def process(self, row, index):
    yield from self._guarded(row, self.join(row, index.get(_key_of(row, self._config.keys))))


class _StampJoinTimeFn(beam.DoFn):
  """(row, original timestamp), stamped with the time that picks the lookup version: the
  wall-clock time the row reaches the step (``processing``) or its own (``event``)."""

  def __init__(self, refresh_time):
    self._processing = refresh_time == 'processing'

  def process(self, row, timestamp=beam.DoFn.TimestampParam):
    yield window.TimestampedValue((row, timestamp),
                                  Timestamp.now() if self._processing else timestamp)


class _RefreshJoinFn(_JoinFn):
  """Joins (row, original timestamp) with the version of its processing-time window and
  gives the row its original timestamp back."""

  def process(self, element, versions):
    row, original = element
    if not versions:
      yield self.unavailable(row, original)
      return
    index = versions[0][1] if len(versions) == 1 else max(versions, key=lambda v: v[0])[1]
    yield from self._guarded(
        row, self.join(row, index.get(_key_of(row, self._config.keys)), original), original)


class _ReadLookupRecordsFn(beam.DoFn):
  """Keyed mode: the lookup's records as (key, (ordinal, output fields))."""

  def __init__(self, config):
    self._config = config
    self._counters = _LookupCounters()

  def setup(self):
    from transforms.bigquery_endpoint import apply_emulator_endpoint
    apply_emulator_endpoint()

  def process(self, unused_impulse):
    rows = null_keys = 0
    for ordinal, record in enumerate(self._config.source.read(), start=1):
      rows += 1
      key = _key_of(record, self._config.lookup_keys)
      if any(part is None for part in key):
        null_keys += 1
        continue
      yield key, (ordinal, _project(record, self._config))
    self._counters.loads.inc()
    self._counters.lookup_rows.inc(rows)
    self._counters.null_keys.inc(null_keys)


class _KeyRowsFn(beam.DoFn):
  """Keyed mode: (key, row); rows whose key is incomplete go to the ``unkeyed`` output (they
  cannot match, and grouping them would make one hot key)."""

  def __init__(self, config):
    self._config = config

  def process(self, row):
    key = _key_of(row, self._config.keys)
    if any(part is None for part in key):
      yield beam.pvalue.TaggedOutput(_UNKEYED_TAG, row)
    else:
      yield key, row


class _KeyedJoinFn(_JoinFn):
  """Keyed mode: one CoGroupByKey group -> its rows joined with the key's entry."""

  def __init__(self, config):
    super().__init__(config)
    self._duplicates = Metrics.counter(NAMESPACE, 'duplicate_keys')

  def process(self, group):
    key, grouped = group
    entries = sorted(grouped['lookup'], key=lambda item: item[0])
    if len(entries) > 1:
      if self._config.duplicates == 'error':
        raise LookupSourceError(
            f'lookup {self._config.source.describe()}: duplicate key '
            f'{dict(zip(self._config.lookup_keys, key, strict=True))} at record {entries[1][0]} '
            f'(first at record {entries[0][0]})')
      self._duplicates.inc(len(entries) - 1)
    entry = entries[-1][1] if entries else None
    for row in grouped['rows']:
      yield from self._guarded(row, self.join(row, entry))


class _UnkeyedJoinFn(_JoinFn):
  def process(self, row):
    yield from self._guarded(row, self.join(row, None))


def _refresh_schedule(unused_impulse, interval, horizon):
  """(start, stop, interval) of the refresh impulse, computed when the pipeline runs: start
  at the last multiple of ``interval`` at or before now (at most one immediate load, no
  backlog of missed ticks), stop ``horizon`` seconds later (a bounded impulse)."""
  interval_us = int(round(interval * 1e6))
  start_us = (Timestamp.now().micros // interval_us) * interval_us
  start = Timestamp(micros=start_us)
  return start, Timestamp(micros=start_us + int(round(horizon * 1e6))), interval


def _align_tick(unused_tick, interval, timestamp=beam.DoFn.TimestampParam):
  """Puts a tick in the middle of its refresh window (the impulse computes tick times in
  float seconds, which may land a microsecond before the window's start)."""
  interval_us = int(round(interval * 1e6))
  k = int(round(timestamp.micros / interval_us))
  return window.TimestampedValue(k, Timestamp(micros=k * interval_us + interval_us // 2))


class BoundedRefreshImpulse(beam.PTransform):
  """The refresh ticks: PBegin -> one element per refresh instant ``a_k = k * interval``,
  timestamped ``a_k``, from the last instant at or before the run's start for ``horizon``
  seconds. Beam's ``ImpulseSeqGenDoFn`` (PeriodicImpulse's splittable DoFn) with a start
  computed when the pipeline runs (no catch-up backlog, unlike a start fixed when the
  pipeline is built) and a finite stop (no far-future end timestamp).

  Beam 2.77's Python DirectRunner cannot run it (its SDF support has no
  ``defer_remainder``: "OffsetRestrictionTracker is not done since work in range [0, n) has
  not been claimed"; in streaming its overrides also fail with "_GroupByKeyOnly was not
  replaced as expected"); Dataflow and portable runners can, and so does the FnApiRunner
  (which runs the side-input stage to completion first: locally useful with ``event`` join
  times only). On the DirectRunner pass ``refresh_ticks`` (e.g. a TestStream).
  """

  def __init__(self, interval, horizon, label=None):
    super().__init__(label)
    self._interval = float(interval)
    self._horizon = float(horizon)

  def expand(self, pbegin):
    return (pbegin
            | 'RefreshImpulse' >> beam.Impulse()
            | 'RefreshSchedule' >> beam.Map(_refresh_schedule, self._interval, self._horizon)
            | 'RefreshTicks' >> beam.ParDo(ImpulseSeqGenDoFn()))


# Runner names that mean the Python DirectRunner (unset means DirectRunner too).
_DIRECT_RUNNERS = ('', 'none', 'directrunner', 'bundlebaseddirectrunner',
                   'switchingdirectrunner')


class EnrichWithSideInput(beam.PTransform):
  """Joins rows with a lookup table; see the module docstring for every rule.

  Input: a PCollection of row dicts. Output: a ``FallibleResult`` — ``rows`` (enriched,
  or kept with nulls on a miss under ``missing='keep'``) and ``dead_letters`` (stage
  ``enrich``: ``enrichment_miss``, ``enrichment_collision:<field>``,
  ``enrichment_unavailable``, ``internal_error``; payload = the row as JSON). A lookup that
  cannot be read fails the pipeline with an error naming the source (a failed *refresh*
  keeps the previous version).

  Example::

      result = rows | 'Enrich' >> EnrichWithSideInput(EnrichmentConfig(
          source=FileLookupSource('gs://bucket/regions.csv'), keys=('country_code',),
          fields=('region',), missing='dead_letter'))
  """

  def __init__(self, config, refresh_ticks=None, label=None):
    """Args:
      config: an ``EnrichmentConfig``.
      refresh_ticks: streaming refresh only: the refresh ticks (elements timestamped at the
        refresh instants), as a PCollection or a PTransform applied to the root; default
        ``BoundedRefreshImpulse``. Tests on the DirectRunner pass a TestStream here.
    """
    super().__init__(label)
    if not isinstance(config, EnrichmentConfig):
      raise ValueError(f'config must be an EnrichmentConfig, got {type(config).__name__}')
    if refresh_ticks is not None:
      if config.refresh_seconds is None:
        raise ValueError('refresh_ticks: only meaningful with config.refresh_seconds')
      if not isinstance(refresh_ticks, (beam.PTransform, beam.PCollection)):
        raise ValueError(f'refresh_ticks must be a PTransform or a PCollection, got '
                         f'{type(refresh_ticks).__name__}')
    self._config = config
    self._refresh_ticks = refresh_ticks

  def expand(self, rows):
    from apache_beam.options.pipeline_options import StandardOptions
    config = self._config
    streaming = rows.pipeline.options.view_as(StandardOptions).streaming
    if config.mode == 'keyed':
      if streaming:
        raise ValueError('mode: keyed joins run in batch pipelines only; use broadcast '
                         '(optionally with refresh_seconds) in streaming')
      return self._expand_keyed(rows)
    if config.refresh_seconds is not None:
      if not streaming:
        raise ValueError('refresh_seconds needs a streaming pipeline (--streaming); a batch '
                         'pipeline loads the lookup once')
      return self._expand_refreshing(rows)
    return self._expand_static(rows)

  def _expand_static(self, rows):
    index = (rows.pipeline
             | 'LookupImpulse' >> beam.Impulse()
             | 'LoadLookup' >> beam.ParDo(_LoadIndexFn(self._config)))
    outputs = rows | 'Join' >> beam.ParDo(
        _BroadcastJoinFn(self._config), beam.pvalue.AsSingleton(index)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])

  def _expand_refreshing(self, rows):
    config = self._config
    interval = float(config.refresh_seconds)
    windowing = rows.windowing
    ticks = self._refresh_ticks
    if ticks is None:
      from apache_beam.options.pipeline_options import StandardOptions
      runner = rows.pipeline.options.view_as(StandardOptions).runner
      if str(runner or '').lower() in _DIRECT_RUNNERS:
        raise ValueError(
            'refresh_seconds: the Python DirectRunner cannot run the periodic refresh '
            'impulse (Beam 2.77 lacks defer_remainder there); run on Dataflow or a '
            'portable runner, or pass refresh_ticks')
      ticks = BoundedRefreshImpulse(interval, config.refresh_horizon_seconds)
    if not isinstance(ticks, beam.PCollection):
      ticks = rows.pipeline | 'RefreshTicks' >> ticks
    index = (ticks
             | 'AlignTicks' >> beam.Map(_align_tick, interval)
             | 'RefreshWindows' >> beam.WindowInto(window.FixedWindows(interval))
             | 'LoadLookup' >> beam.ParDo(_LoadIndexFn(config, refreshing=True)))
    outputs = (rows
               | 'StampJoinTime' >> beam.ParDo(_StampJoinTimeFn(config.refresh_time))
               | 'JoinWindows' >> beam.WindowInto(window.FixedWindows(interval))
               | 'Join' >> beam.ParDo(
                   _RefreshJoinFn(config),
                   beam.pvalue.AsList(index)).with_outputs(
                       DEAD_LETTER_TAG, main=ROWS_TAG))

    def restore(pcoll, label):
      return pcoll | label >> beam.WindowInto(
          windowing.windowfn, trigger=windowing.triggerfn,
          accumulation_mode=windowing.accumulation_mode,
          timestamp_combiner=windowing.timestamp_combiner,
          allowed_lateness=windowing.allowed_lateness)

    return FallibleResult(rows=restore(outputs[ROWS_TAG], 'RestoreWindowing'),
                          dead_letters=restore(outputs[DEAD_LETTER_TAG],
                                               'RestoreDeadLetterWindowing'))

  def _expand_keyed(self, rows):
    config = self._config
    lookup = (rows.pipeline
              | 'LookupImpulse' >> beam.Impulse()
              | 'ReadLookup' >> beam.ParDo(_ReadLookupRecordsFn(config)))
    keyed = rows | 'KeyRows' >> beam.ParDo(_KeyRowsFn(config)).with_outputs(
        _UNKEYED_TAG, main='keyed')
    joined = ({'rows': keyed['keyed'], 'lookup': lookup}
              | 'CoGroupByKey' >> beam.CoGroupByKey()
              | 'Join' >> beam.ParDo(_KeyedJoinFn(config)).with_outputs(
                  DEAD_LETTER_TAG, main=ROWS_TAG))
    unkeyed = keyed[_UNKEYED_TAG] | 'JoinIncompleteKeys' >> beam.ParDo(
        _UnkeyedJoinFn(config)).with_outputs(DEAD_LETTER_TAG, main=ROWS_TAG)
    return FallibleResult(
        rows=(joined[ROWS_TAG], unkeyed[ROWS_TAG]) | 'FlattenRows' >> beam.Flatten(),
        dead_letters=((joined[DEAD_LETTER_TAG], unkeyed[DEAD_LETTER_TAG])
                      | 'FlattenDeadLetters' >> beam.Flatten()))


def enriched_schema(schema, config):
  """The sink schema for enriched rows: ``schema`` plus a NULLABLE STRING column for each
  output field it lacks. Declare a column in the schema yourself to give it another type.

  Raises:
    ValueError: when ``config.fields`` is unset (the output columns are then unknown).
  """
  from transforms.schema import FieldSpec, TableSchema, load_schema
  schema = load_schema(schema)
  outputs = config.output_fields()
  if outputs is None:
    raise ValueError('fields: the enriched schema needs the output fields named')
  have = {f.name.lower() for f in schema.fields}
  extra = tuple(FieldSpec(name=n, type='STRING', mode='NULLABLE',
                          description='added by enrichment')
                for n in outputs if n.lower() not in have)
  return TableSchema(fields=schema.fields + extra)
