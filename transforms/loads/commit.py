"""LoadCommit: a run's rows, dead letters and manifest entries become visible together.

The sinks of a run (``WriteRowsToBigQuery(..., commit=commit)``, ``WriteDeadLetters``)
stage their rows as files instead of writing them (``StageRowsForCommit``);
``SelectFilesToLoad`` gives the manifest entries of the files read. ``CommitLoads`` gathers
all of it per window (batch: the one global window, i.e. the whole run, after every file is
written; streaming: each commit window, ``CommitWindows``) and runs one commit: each table's
files are loaded into a fresh staging table, then one transaction
(``beam_pipelines.transforms.loads.sql``) inserts them into the tables with the manifest
rows, and the staging tables and files go. A streaming window that staged rows but read no
file (aggregates, the dead letter of a changed or missing file) commits them too, with a
marker entry (``manifest.commit_marker_entry``).

A run killed before the commit leaves no trace in the tables (its staging files and any
staging table, which expires after a day, are left); killed during the commit, BigQuery
either ran the transaction or not; after it, its manifest rows make the rerun skip its
files. A retried commit is a no-op once one attempt went through.

Example::

    commit = LoadCommit(LoadConfig('p:ds.events_loads', staging_location='gs://b/tmp'))
    files = matched | SelectFilesToLoad(config, pattern)
    commit.add_entries(files.entries)
    ... rows | WriteRowsToBigQuery(schema, sink, commit=commit) ...
    _ = p | CommitLoads(commit)
"""

import logging
import uuid
from typing import NamedTuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow

from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.loads.config import committing_config
from beam_pipelines.transforms.loads.manifest import commit_marker_entry, file_entry_schema
from beam_pipelines.transforms.loads.sql import CommitSql, Target
from beam_pipelines.transforms.loads.stage import (StagedFile, StageRowsForCommit,
                                                   base64_columns, staging_schema)
from beam_pipelines.transforms.write.staged_script import (Stage, StagedScript,
                                                           staging_table_ref, table_ref,
                                                           write_json_lines)

_LOG = logging.getLogger(__name__)
_ENTRY = 'files'


class CommitOutcome(NamedTuple):
  """What one commit did: its id, the files it committed (of ``offered``), and the rows and
  dead letters those files brought."""
  commit_id: str
  files: int
  offered: int
  rows: int
  dead_letters: int


class _TargetSpec(NamedTuple):
  table: str
  schema: object
  layout: object


class LoadCommit:
  """Collects what a run stages for BigQuery; ``CommitLoads(commit)`` commits it.

  Args:
    config: a ``LoadConfig`` (mode ``incremental`` or ``replace``).
    pipeline_name, output_table: recorded in the manifest rows.
  """

  def __init__(self, config, pipeline_name=None, output_table=None):
    self.config = committing_config(config, 'LoadCommit')
    if config.manifest_table is None:
      raise ValueError('LoadCommit: the LoadConfig has a manifest_path (a lake sink): use '
                       'LakeCommit')
    self.pipeline_name = pipeline_name
    self.output_table = output_table
    self.targets = {}
    self.staged = []
    self.entries = None

  def stage(self, rows, role, table, schema, layout=None):
    """Stages ``rows`` for ``table`` (the table's ``role`` in the commit: ``rows``,
    ``dead_letters``, ...); what a sink given ``commit=`` does instead of writing."""
    if role in self.targets:
      raise ValueError(f'LoadCommit: two tables staged as {role!r}')
    self.targets[role] = _TargetSpec(table, load_schema(schema), layout)
    self.staged.append(rows | 'StageForCommit' >> StageRowsForCommit(
        schema, role, self.config.staging_location))

  def add_entries(self, entries):
    """The manifest entries of the files read (``SelectFilesToLoad(...).entries``)."""
    if self.entries is not None:
      raise ValueError('LoadCommit: manifest entries were added already')
    self.entries = entries


def _commit_id(run_id, window):
  if isinstance(window, GlobalWindow):
    return run_id
  return f'{run_id}_{int(window.start.micros // 1000)}'


class _CommitFn(beam.DoFn):

  def __init__(self, config, targets, pipeline_name, output_table):
    self._config = config
    self._targets = targets
    self._pipeline_name = pipeline_name
    self._output_table = output_table
    self._counters = {name: Metrics.counter('load', name) for name in (
        'commits', 'files_committed', 'files_conflicted', 'rows_committed',
        'dead_letters_committed')}

  def setup(self):
    config = self._config
    self._runner = StagedScript(config.staging_location, config.retry_budget_seconds,
                                config.project,
                                budget_name=self._output_table or config.manifest_table)
    self._client = self._runner.client()

  def teardown(self):
    self._client.close()

  def process(self, element, window=beam.DoFn.WindowParam):
    _, items = element
    entries, files = [], {}
    for kind, item in items:
      if kind == _ENTRY:
        entries.append(item)
      else:
        files.setdefault(item.role, []).append(item.path)
    if entries or files:  # else nothing was read nor produced in this window
      # A window with staged rows but no file (streaming: aggregates, a changed or missing
      # file's dead letter) commits them with a marker entry instead.
      outcome = self._commit(_commit_id(self._config.run_id, window),
                             entries or [commit_marker_entry()], files, offered=len(entries))
      self._count(outcome)
      yield outcome

  def _commit(self, commit_id, entries, files, offered):
    config, project = self._config, self._client.project
    manifest = table_ref(config.manifest_table, project)
    entries_path = f'{config.staging_location.rstrip("/")}/files/{uuid.uuid4().hex}.jsonl'
    write_json_lines(entries_path, entries)
    files_ref = staging_table_ref(manifest, 'files')
    stages = [Stage(files_ref, file_entry_schema(), (entries_path,))]
    targets = []
    for role, spec in self._targets.items():
      ref = table_ref(spec.table, project)
      staging = None
      if files.get(role):
        staging = staging_table_ref(ref, 'stage')
        stages.append(Stage(staging, staging_schema(spec.schema), tuple(files[role])))
      targets.append(Target(role, ref, tuple(spec.schema.field_names()), staging, spec.layout,
                            base64_columns(spec.schema)))
    sql = CommitSql(config.mode, manifest, files_ref, commit_id, self._pipeline_name,
                    self._output_table, config.source_file_column)
    try:
      [result] = self._runner.run_stages(self._client, stages, sql.script(targets))
    finally:
      _delete([entries_path] + [p for paths in files.values() for p in paths])
    outcome = CommitOutcome(commit_id, int(result['files']), offered,
                            int(result['rows']), int(result['dead_letters']))
    if outcome.files < outcome.offered:
      _LOG.warning('commit %s: %d of %d file(s) were loaded by another run meanwhile; their '
                   'rows were left out', commit_id, outcome.offered - outcome.files,
                   outcome.offered)
    return outcome

  def _count(self, outcome):
    self._counters['commits'].inc()
    self._counters['files_committed'].inc(outcome.files)
    self._counters['files_conflicted'].inc(outcome.offered - outcome.files)
    self._counters['rows_committed'].inc(outcome.rows)
    self._counters['dead_letters_committed'].inc(outcome.dead_letters)


def _delete(paths):
  try:
    FileSystems.delete(paths)
  except Exception as e:  # pylint: disable=broad-except
    _LOG.warning('could not delete staging files: %s', e)


class CommitLoads(beam.PTransform):
  """PBegin in (apply it to the pipeline after the sinks); ``CommitOutcome``s out, one per
  commit. See the module docstring. Counters ``load/commits``, ``load/files_committed``,
  ``load/files_conflicted`` (loaded by another run meanwhile), ``load/rows_committed``,
  ``load/dead_letters_committed``. A commit failing for a transient reason is retried within
  the retry budget; any other failure fails the run (nothing is committed then)."""

  def __init__(self, commit, label=None):
    super().__init__(label)
    if not isinstance(commit, LoadCommit):
      raise ValueError(f'commit must be a LoadCommit, got {type(commit).__name__}')
    if commit.entries is None:
      raise ValueError('CommitLoads: the LoadCommit has no manifest entries (add_entries)')
    self._commit = commit

  def expand(self, pbegin):
    commit = self._commit
    keyed = [commit.entries | 'KeyEntries' >> beam.Map(lambda e: (0, (_ENTRY, e)))]
    for i, staged in enumerate(commit.staged):
      keyed.append(staged | f'KeyStaged{i}' >> beam.Map(
          lambda f: (0, ('staged', f))).with_input_types(StagedFile))
    return (tuple(keyed)
            | 'Gather' >> beam.Flatten()
            | 'PerWindow' >> beam.GroupByKey()
            | 'Commit' >> beam.ParDo(_CommitFn(
                commit.config, dict(commit.targets), commit.pipeline_name,
                commit.output_table)))
