"""ApplyChanges: change rows in, merged into the change log, the replica and the history.

Changes are collected on one key (batch: one group, merged in chunks of ``max_changes``;
streaming: ``GroupIntoBatches``, at most ``max_changes`` a batch and at most
``interval_seconds`` old), and each batch is staged and merged by one script in one
transaction (``beam_pipelines.transforms.cdc.merge_sql`` through
``beam_pipelines.transforms.write.staged_script``). Merges never overlap: in batch one DoFn
call makes them all in turn; in streaming the merging DoFn is stateful on the one key (the
runner runs one key's elements one at a time). Redeliveries inside a batch are dropped before
staging; those the change log already holds are dropped by the merge; both are counted
``cdc/duplicates``.
"""

import json
import time
from typing import Any, NamedTuple, Tuple

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import userstate
from apache_beam.transforms.util import GroupIntoBatches

from beam_pipelines.transforms.cdc.change import to_changelog_row
from beam_pipelines.transforms.cdc.config import MergeConfig
from beam_pipelines.transforms.cdc.merge_sql import merge_script
from beam_pipelines.transforms.cdc.tables import (changelog_schema, check_row_schema,
                                                  history_schema, replica_schema, row_columns)
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.write.staged_script import (StagedScript, ensure_table,
                                                           staging_table_ref, table_ref)

NAMESPACE = 'cdc'


class MergeOutcome(NamedTuple):
  """What one merge did (the elements ``ApplyChanges`` returns)."""
  changes: int       # change rows in the batch
  applied: int       # new changes stored in the change log
  duplicates: int    # redeliveries dropped (in the batch or already in the log)
  keys: int          # keys whose replica row and history were recomputed
  seconds: float     # wall time of staging + script


def _json_columns(schema):
  """The row's top-level JSON columns: their values are JSON text in rows, JSON values in
  load files (the ``_cdc_*`` JSON columns hold objects already)."""
  return tuple(f.name for f in schema.fields
               if f.type == 'JSON' and not f.repeated and not f.name.startswith('_cdc_'))


def _staging_row(row, json_columns):
  if not json_columns:
    return row
  out = dict(row)
  for name in json_columns:
    if isinstance(out.get(name), str):
      out[name] = json.loads(out[name])
  return out


def _pick(a, b):
  """The change kept of two with one id (same key and order): the smaller JSON text, so that
  every run keeps the same one."""
  text_a = json.dumps(a, sort_keys=True, default=str)
  text_b = json.dumps(b, sort_keys=True, default=str)
  return a if text_a <= text_b else b


class Merger:
  """Applies batches of change-log rows to the tables, outside Beam (``ApplyChanges``' DoFn
  holds one per worker; tests and tools may use it directly).

  ``open()`` creates the client and the tables (if needed) and builds the script;
  ``merge(rows)`` drops redeliveries inside the batch, stages the rest and runs the merge
  script; it returns a ``MergeOutcome``.
  """

  def __init__(self, config, row_schema):
    if not isinstance(config, MergeConfig):
      raise ValueError(f'config must be a MergeConfig, got {type(config).__name__}')
    self.config = config
    self.row_schema = load_schema(row_schema)
    self.refs = None

  def open(self):
    config = self.config
    self._runner = StagedScript(config.staging_location, config.retry_budget_seconds,
                                config.project, budget_name=config.replica)
    self.client = self._runner.client()
    project = self.client.project
    self.refs = {name: table_ref(getattr(config, name), project)
                 for name in ('replica', 'changelog', 'history') if getattr(config, name)}
    self._log_schema = changelog_schema(self.row_schema)
    self._json_columns = _json_columns(self._log_schema)
    schema = replica_schema(self.row_schema)
    layout = config.replica_layout and config.replica_layout.for_schema(schema)
    ensure_table(self.client, self.refs['replica'], schema,
                 None if layout and layout.clustering_fields else config.primary_key, layout)
    ensure_table(self.client, self.refs['changelog'], self._log_schema, ('_cdc_key',))
    if 'history' in self.refs:
      ensure_table(self.client, self.refs['history'], history_schema(self.row_schema),
                   ('_cdc_key',))
    self._script = merge_script(row_columns(self.row_schema), config.primary_key,
                                self.refs['changelog'], self.refs['replica'],
                                self.refs.get('history'), config.apply_truncate)
    return self

  def merge(self, rows):
    """Merges one batch of change-log rows (``to_changelog_row``); returns a MergeOutcome."""
    if self.refs is None:
      self.open()
    unique = {}
    count = 0
    for row in rows:
      count += 1
      seen = unique.get(row['_cdc_change_id'])
      unique[row['_cdc_change_id']] = row if seen is None else _pick(seen, row)
    staged = [_staging_row(r, self._json_columns) for r in unique.values()]
    started = time.monotonic()
    result = self._runner.run(self.client, staged, self._log_schema,
                              staging_table_ref(self.refs['replica'], 'cdc_staging'),
                              self._script)
    seconds = time.monotonic() - started
    applied = int(result[0]['applied']) if result else 0
    keys = int(result[0]['keys']) if result else 0
    return MergeOutcome(count, applied, count - applied, keys, round(seconds, 3))


class _MergeFn(beam.DoFn):
  """(key, changes) -> one merge per ``max_changes`` of them, in order (batch: the whole
  input is one group, so one call merges it all, chunk after chunk)."""

  def __init__(self, config, row_schema):
    self._config = config
    self._row_schema = row_schema
    self._counters = {name: Metrics.counter(NAMESPACE, name) for name in (
        'staged', 'applied', 'duplicates', 'merges', 'keys_recomputed')}
    self._merge_ms = Metrics.distribution(NAMESPACE, 'merge_ms')

  def setup(self):
    self._merger = Merger(self._config, self._row_schema).open()

  def _merge(self, batch):
    outcome = self._merger.merge(batch)
    self._counters['staged'].inc(outcome.changes)
    self._counters['applied'].inc(outcome.applied)
    self._counters['duplicates'].inc(outcome.duplicates)
    self._counters['keys_recomputed'].inc(outcome.keys)
    self._counters['merges'].inc()
    self._merge_ms.update(int(outcome.seconds * 1000))
    return outcome

  def process(self, element):
    _, changes = element
    chunk = []
    for row in changes:
      chunk.append(row)
      if len(chunk) >= self._config.max_changes:
        yield self._merge(chunk)
        chunk = []
    if chunk:
      yield self._merge(chunk)


class _MergeBatchesFn(_MergeFn):
  """Streaming: one merge per batch of GroupIntoBatches. The state makes the DoFn stateful:
  the runner then processes the one key's batches one at a time, so merges never overlap. It
  holds the number of merges done."""
  MERGES = userstate.ReadModifyWriteStateSpec('merges', VarIntCoder())

  def process(self, element, merges=beam.DoFn.StateParam(MERGES)):  # pylint: disable=arguments-differ
    yield from super().process(element)
    merges.write((merges.read() or 0) + 1)


class ApplyChanges(beam.PTransform):
  """Merges change rows into the change log, the replica and (optionally) the SCD2 history.

  Input: change rows (``DecodeChanges`` output, after any masking and enrichment). Each is
  flattened into a change-log row, batched (``config.max_changes``; in streaming also
  ``config.interval_seconds``), and every batch merged in one transaction (see
  ``beam_pipelines.transforms.cdc.merge_sql`` for the rules). Tables are created if needed
  (clustered by key). A merge that fails for a transient reason is retried within
  ``config.retry_budget_seconds``; any other failure fails the pipeline (nothing is dropped).

  Outputs: a PCollection of ``MergeOutcome`` (one per merge). Counters ``cdc/staged``,
  ``cdc/applied``, ``cdc/duplicates``, ``cdc/merges``, ``cdc/keys_recomputed`` and the
  distribution ``cdc/merge_ms``.

  Example::

      config = MergeConfig(replica='p:ds.customers', changelog='p:ds.customers_changelog',
                           history='p:ds.customers_history', primary_key=('id',),
                           staging_location='gs://bucket/tmp')
      changes.rows | ApplyChanges(config, 'schema.json')
  """

  def __init__(self, config, row_schema, label=None):
    super().__init__(label)
    if not isinstance(config, MergeConfig):
      raise ValueError(f'config must be a MergeConfig, got {type(config).__name__}')
    self._row_schema = load_schema(row_schema)
    spelled = check_row_schema(self._row_schema, config.primary_key)
    if spelled != config.primary_key:
      raise ValueError(f'primary_key must be spelled as in the schema: {spelled}')
    self._config = config

  def expand(self, changes):
    config = self._config
    keyed = changes | 'ToChangeLogRows' >> beam.Map(
        lambda row, pk: (0, to_changelog_row(row, pk)), config.primary_key
    ).with_output_types(Tuple[int, Any])
    if changes.is_bounded:
      # Batch: one group, merged chunk by chunk by one DoFn call (no per-element state).
      return (keyed
              | 'GroupForMerge' >> beam.GroupByKey()
              | 'Merge' >> beam.ParDo(_MergeFn(config, self._row_schema)))
    return (keyed
            | 'BatchForMerge' >> GroupIntoBatches(
                config.max_changes, max_buffering_duration_secs=config.interval_seconds)
            | 'Merge' >> beam.ParDo(_MergeBatchesFn(config, self._row_schema)))
