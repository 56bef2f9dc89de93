"""EnrichWithSideInput: join rows with a lookup table (file or BigQuery), static or refreshing.

Rows (dicts in BigQuery JSON form, as ``ParseAndValidate`` produces them) are joined on one
or more key fields (dotted paths into nested records allowed) with a lookup table read by a
``beam_pipelines.transforms.enrichment.sources`` source. Selected lookup columns are added to each row as
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

Refresh (streaming, broadcast mode, ``refresh_seconds`` = N), two strategies
(``refresh_strategy``; ``auto`` picks ``side_input`` on Dataflow or with
``refresh_time='event'``, ``worker`` on every other runner):

``worker`` (``beam_pipelines.transforms.enrichment.worker_refresh``, every runner): each worker
process holds the lookup in the join step and reloads it when it is older than N (the row
that finds it stale waits for the load; the new version replaces the old at once). A row
joined at time T uses a version whose read started within the N seconds before T, so a change
completed at time c is seen by every row joined at c + N or later, on every worker; workers
reload on their own clocks, so for up to N two workers may hold different versions. Cost per
row: a clock read. A failed reload keeps the last good version (``enrich/refresh_failures``)
and is retried N later; a failed first load fails the bundle. No horizon, no extra step.

``side_input`` (Dataflow, portable runners): refresh ticks fire at the wall-clock instants
``a_k = k * N`` (epoch-aligned multiples of N), from the last such instant at or before the
moment the pipeline starts running (no catch-up backlog) until ``refresh_horizon_seconds``
later (a bounded impulse, no far-future end timestamp). Tick ``k`` fires at wall-clock time
>= ``a_k`` and loads the lookup once; that version is the side input of the window
``[a_k, a_k+N)`` on every worker. Each row gets a *join time* ``T`` — with
``refresh_time='processing'`` (default) the wall-clock time it reaches this step, with
``'event'`` its own timestamp — and is joined against the version of the window containing
``T``, waiting until that version is loaded. Hence, exactly:
  * a row with join time ``T`` sees the version loaded by tick ``floor(T/N)``, which read
    the source at or after ``a_k = floor(T/N)*N`` (never an older version, never a newer);
  * a change to the source completed before instant ``a_k`` is seen by every row whose join
    time is ``>= a_k``: staleness is at most ``N`` plus one load, and rows in the same window
    all see the same version on every worker (no row sees a half-loaded table);
  * a window holding more than one version (a re-delivered tick) uses the latest-loaded;
  * rows leave with their original timestamp and windowing. With ``processing`` join time
    a row waiting for its version is held at its processing-time stamp, so the upstream
    watermark may pass its original timestamp meanwhile (by about one load time at most):
    downstream event-time windows should allow that much lateness, or use ``event``.
After the horizon no version exists: rows become dead letters ``enrichment_unavailable``
(never silently unenriched), so set the horizon beyond the job's planned lifetime or update
the job before it ends; the same happens to ``refresh_time='event'`` rows older than the
first tick. A failed refresh re-emits the previous version of that worker
(``enrich/refresh_failures``); a failed first load fails the pipeline. The Python
DirectRunner cannot run the impulse (tests pass ``refresh_ticks``); the FnApiRunner runs it
to completion before the rows, so there only ``event`` join times are meaningful.

With ``version_field`` set, each enriched row records the version it was joined with (the
TIMESTAMP its read started), under either strategy.

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

import dataclasses
import logging

import apache_beam as beam
from apache_beam.transforms import window

from beam_pipelines.transforms.core.batches import batch_hint, batched_or_not, check_batched
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult,
                                                        pipeline_name_of)
from beam_pipelines.transforms.core.elements import RowDict
from beam_pipelines.transforms.core.outputs import remember_schema, schema_of, typed_dead_letters

# Re-exported: the public names users import from here, and a few internals tests use.
from beam_pipelines.transforms.enrichment.config import EnrichmentConfig
from beam_pipelines.transforms.enrichment.config import refresh_strategy_for
from beam_pipelines.transforms.enrichment.join import (_UNKEYED_TAG, BoundedRefreshImpulse, align_tick,
                                        _BroadcastJoinFn, _KeyedJoinFn, _KeyRowsFn, LoadIndexFn,
                                        _ReadLookupRecordsFn, _RefreshJoinFn, _ReloadingJoinFn,
                                        StampJoinTimeFn, _UnkeyedJoinFn)

_LOG = logging.getLogger(__name__)


class EnrichWithSideInput(beam.PTransform):
  """Joins rows with a lookup table; see the module docstring for every rule.

  Input: rows (dicts or ``beam.Row``s). Output: a ``FallibleResult`` — ``rows`` (enriched,
  or kept with nulls on a miss under ``missing='keep'``; schema ``enriched_schema(input
  schema, config)``) and ``dead_letters`` (stage ``enrich``: ``enrichment_miss``,
  ``enrichment_collision:<field>``, ``enrichment_unavailable``, ``internal_error``,
  ``unsupported_element:<kind>``; payload = the row as JSON, with its source id). A lookup
  that cannot be read fails the pipeline with an error naming the source (a failed *refresh*
  keeps the previous version).

  Example::

      result = rows | 'Enrich' >> EnrichWithSideInput(EnrichmentConfig(
          source=FileLookupSource('gs://bucket/regions.csv'), keys=('country_code',),
          fields=('region',), missing='dead_letter'))
  """

  def __init__(self, config, refresh_ticks=None, *, pipeline_name=None, batched=False,
               label=None):
    """Args:
      config: an ``EnrichmentConfig``.
      refresh_ticks: side-input refresh only: the refresh ticks (elements timestamped at
        the refresh instants), as a PCollection or a PTransform applied to the root; default
        ``BoundedRefreshImpulse``. Tests on the DirectRunner pass a TestStream here (which
        selects the side-input refresh under ``refresh_strategy='auto'``).
      pipeline_name: recorded in each dead letter (default: the pipeline's options).
      batched: input and output rows are batches (lists) of rows
        (``beam_pipelines.transforms.core.batches``; ``TimedBatches``: timed batches); for the broadcast join with a static
        lookup or the worker refresh (``mode='keyed'`` and the side-input refresh take rows
        one by one).
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
    self._pipeline_name = pipeline_name
    self._batched = check_batched(batched, 'EnrichWithSideInput')
    if self._batched and (config.mode == 'keyed' or refresh_ticks is not None):
      raise ValueError('batched: the keyed join and the side-input refresh take rows one by '
                       'one')

  def expand(self, rows):
    config = self._config
    name = pipeline_name_of(rows.pipeline, self._pipeline_name or config.pipeline_name)
    if name != config.pipeline_name:
      self._config = dataclasses.replace(config, pipeline_name=name)
    result = self._expand(rows)
    schema = schema_of(rows)
    if schema is not None and config.output_fields() is not None:
      schema = enriched_schema(schema, config)
    else:
      schema = None
    result.rows.element_type = batch_hint(self._batched, RowDict)
    return FallibleResult(rows=remember_schema(result.rows, schema),
                          dead_letters=typed_dead_letters(result.dead_letters))

  def _expand(self, rows):
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
      strategy = refresh_strategy_for(config, rows.pipeline.runner,
                                      has_ticks=self._refresh_ticks is not None)
      if strategy == 'worker':
        return self._expand_worker(rows)
      if self._batched:
        raise ValueError('batched: the side-input refresh takes rows one by one')
      return self._expand_refreshing(rows)
    return self._expand_static(rows)

  def _expand_worker(self, rows):
    import uuid
    outputs = rows | 'Join' >> beam.ParDo(batched_or_not(
        _ReloadingJoinFn(self._config, uuid.uuid4().hex), self._batched)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])

  def _expand_static(self, rows):
    index = (rows.pipeline
             | 'LookupImpulse' >> beam.Impulse()
             | 'LoadLookup' >> beam.ParDo(LoadIndexFn(self._config)))
    outputs = rows | 'Join' >> beam.ParDo(
        batched_or_not(_BroadcastJoinFn(self._config), self._batched),
        beam.pvalue.AsSingleton(index)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])

  def _expand_refreshing(self, rows):
    config = self._config
    interval = float(config.refresh_seconds)
    windowing = rows.windowing
    ticks = self._refresh_ticks
    if ticks is None:
      ticks = BoundedRefreshImpulse(interval, config.refresh_horizon_seconds)
    if not isinstance(ticks, beam.PCollection):
      ticks = rows.pipeline | 'RefreshTicks' >> ticks
    index = (ticks
             | 'AlignTicks' >> beam.Map(align_tick, interval)
             | 'RefreshWindows' >> beam.WindowInto(window.FixedWindows(interval))
             | 'LoadLookup' >> beam.ParDo(LoadIndexFn(config, refreshing=True)))
    outputs = (rows
               | 'StampJoinTime' >> beam.ParDo(StampJoinTimeFn(config.refresh_time))
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
  output field it lacks (and a NULLABLE TIMESTAMP for ``config.version_field``). Declare a
  column in the schema yourself to give it another type.

  Raises:
    ValueError: when ``config.fields`` is unset (the output columns are then unknown).
  """
  from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema, load_schema
  schema = load_schema(schema)
  outputs = config.output_fields()
  if outputs is None:
    raise ValueError('fields: the enriched schema needs the output fields named')
  have = {f.name.lower() for f in schema.fields}
  extra = tuple(FieldSpec(name=n, type='STRING', mode='NULLABLE',
                          description='added by enrichment')
                for n in outputs if n.lower() not in have)
  version = config.version_field
  if version is not None and version.lower() not in have:
    extra += (FieldSpec(name=version, type='TIMESTAMP', mode='NULLABLE',
                        description='lookup version the row was enriched with'),)
  return TableSchema(fields=schema.fields + extra)
