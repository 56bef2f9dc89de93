"""The DoFns behind EnrichWithSideInput: index loading, the joins, the bounded refresh impulse."""

import json
import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import ImpulseSeqGenDoFn
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, format_exception,
                                                        make_dead_letter)
from beam_pipelines.transforms.core.elements import (UnsupportedElement, row_dict, source_id_of,
                                                     unsupported_element_dead_letter,
                                                     without_source_id)
from beam_pipelines.transforms.enrichment.config import (NAMESPACE, _key_of, _LookupCounters,
                                                         _project, build_index, get_path)
from beam_pipelines.transforms.enrichment.sources.base import LookupSourceError
from beam_pipelines.transforms.enrichment.worker_refresh import version_text

_LOG = logging.getLogger(__name__)
_UNKEYED_TAG = 'unkeyed'


class LoadIndexFn(beam.DoFn):
  """One tick in, one lookup index (a dict) out. In refresh mode a failed reload re-emits the
  previous version of this worker instead of failing the pipeline."""

  def __init__(self, config, refreshing=False):
    self._config = config
    self._refreshing = refreshing
    self._counters = _LookupCounters()
    self._last = None

  def process(self, unused_tick):
    started = time.monotonic()
    read_at = time.time()  # the version's id: when its read started
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
      index = (read_at, index)
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

  def join(self, row, entry, timestamp=None, version=None):
    """Yields the enriched row, a dead letter, or nothing (dropped) for one row.

    ``entry`` is the row's lookup entry or None for a miss; ``version`` the id of the lookup
    version it came from (written to ``config.version_field`` when set).
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
      if config.version_field is not None:
        out[config.version_field] = version
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
    if config.version_field is not None:
      out[config.version_field] = version
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
        json.dumps(without_source_id(row), sort_keys=True, default=str, ensure_ascii=False),
        stage='enrich', error_type=error_type, message=reason,
        stacktrace=format_exception(exc) if exc is not None else None,
        source_id=source_id_of(row), pipeline=self._config.pipeline_name)
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


def unsupported(element, pipeline_name):
  """The dead letter of an element that is not a row."""
  return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
      element, 'enrich', 'EnrichWithSideInput', 'rows (dicts or beam.Rows)', pipeline_name))


def unsupported_at(element, pipeline_name, timestamp):
  """As ``unsupported``, stamped back at the element's original timestamp."""
  return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, window.TimestampedValue(
      unsupported_element_dead_letter(element, 'enrich', 'EnrichWithSideInput',
                                      'rows (dicts or beam.Rows)', pipeline_name), timestamp))


class _BroadcastJoinFn(_JoinFn):
  def process(self, element, index):
    try:
      row = row_dict(element)
    except UnsupportedElement:
      yield unsupported(element, self._config.pipeline_name)
      return
    yield from self._guarded(row, self.join(row, index.get(_key_of(row, self._config.keys))))


class _ReloadingJoinFn(_JoinFn):
  """The worker refresh (``beam_pipelines.transforms.enrichment.worker_refresh``): joins
  each row with the version its process holds, reloading it when it is too old."""

  def __init__(self, config, token):
    super().__init__(config)
    self._token = token
    self._counters = _LookupCounters()
    self._holder = None

  def setup(self):
    from beam_pipelines.transforms.enrichment.worker_refresh import holder_for
    self._holder = holder_for(self._token, self._config)

  def process(self, row):
    current = self._holder.get(self._counters)
    yield from self._guarded(row, self.join(
        row, current.index.get(_key_of(row, self._config.keys)), version=current.version))


class StampJoinTimeFn(beam.DoFn):
  """(row, original timestamp), stamped with the time that picks the lookup version: the
  wall-clock time the row reaches the step (``processing``) or its own (``event``)."""

  def __init__(self, refresh_time):
    self._processing = refresh_time == 'processing'

  def process(self, element, timestamp=beam.DoFn.TimestampParam):
    yield window.TimestampedValue((element, timestamp),
                                  Timestamp.now() if self._processing else timestamp)


class _RefreshJoinFn(_JoinFn):
  """Joins (row, original timestamp) with the version of its processing-time window and
  gives the row its original timestamp back."""

  def process(self, element, versions):
    row, original = element
    try:
      row = row_dict(row)
    except UnsupportedElement:
      yield unsupported_at(row, self._config.pipeline_name, original)
      return
    if not versions:
      yield self.unavailable(row, original)
      return
    loaded_at, index = versions[0] if len(versions) == 1 else max(versions,
                                                                  key=lambda v: v[0])
    version = version_text(loaded_at) if self._config.version_field else None
    yield from self._guarded(row, self.join(
        row, index.get(_key_of(row, self._config.keys)), original, version), original)


class _ReadLookupRecordsFn(beam.DoFn):
  """Keyed mode: the lookup's records as (key, (ordinal, output fields))."""

  def __init__(self, config):
    self._config = config
    self._counters = _LookupCounters()

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

  def process(self, element):
    try:
      row = row_dict(element)
    except UnsupportedElement:  # refused by the unkeyed join, as a dead letter
      yield beam.pvalue.TaggedOutput(_UNKEYED_TAG, element)
      return
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
  def process(self, element):
    try:
      row = row_dict(element)
    except UnsupportedElement:
      yield unsupported(element, self._config.pipeline_name)
      return
    yield from self._guarded(row, self.join(row, None))


def refresh_schedule(unused_impulse, interval, horizon):
  """(start, stop, interval) of the refresh impulse, computed when the pipeline runs: start
  at the last multiple of ``interval`` at or before now (at most one immediate load, no
  backlog of missed ticks), stop ``horizon`` seconds later (a bounded impulse)."""
  interval_us = int(round(interval * 1e6))
  start_us = (Timestamp.now().micros // interval_us) * interval_us
  start = Timestamp(micros=start_us)
  return start, Timestamp(micros=start_us + int(round(horizon * 1e6))), interval


def align_tick(unused_tick, interval, timestamp=beam.DoFn.TimestampParam):
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
            | 'RefreshSchedule' >> beam.Map(refresh_schedule, self._interval, self._horizon)
            | 'RefreshTicks' >> beam.ParDo(ImpulseSeqGenDoFn()))


# Runner names that mean the Python DirectRunner (unset means DirectRunner too).
