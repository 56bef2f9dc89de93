"""LakeCommit: a lake sink run's files become part of the output together, by one manifest.

The file sinks of a run (``WriteRowsToFiles(..., commit=commit)``, ``WriteDeadLetters`` of
kind ``files``) hand their records, each with its source id, to ``commit.write_files``
instead of Beam's file sinks: each bundle writes one file per input file it saw, under the
run's folder (``<base>/run=<run_id>/``), and reports it (``RunFile``). ``CommitLakeLoads``
gathers the run's files and the manifest entries of ``SelectFilesToLoad`` once everything is
written and commits them by writing the run's manifest file (``lake_manifest``).

Killed before the manifest is written, a run leaves files no manifest lists: not part of the
output, ignored by the rerun (which writes a run folder of its own). Killed after, the
manifest makes the rerun skip its files. A failed bundle attempt's files are listed nowhere
(the runner drops its outputs). A commit retried after it went through finds its manifest
and does nothing.

Example::

    commit = LakeCommit(config, '/lake/events')          # config.manifest_path is set
    files = matched | SelectFilesToLoad(config, pattern)
    commit.add_entries(files.entries)
    failed = rows | WriteRowsToFiles(schema, lake_config, commit=commit)
    _ = p | CommitLakeLoads(commit)
"""

import datetime
import logging
import os
import re
import uuid
from typing import NamedTuple, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from beam_pipelines.transforms.loads.commit import CommitOutcome
from beam_pipelines.transforms.loads.config import committing_config
from beam_pipelines.transforms.loads.lake_manifest import (ROLES, file_rows, live_outputs,
                                                           read_manifests, run_folder,
                                                           write_manifest)
from beam_pipelines.transforms.loads.manifest import file_of

_LOG = logging.getLogger(__name__)
_ENTRY = 'entry'
_MAX_OPEN_FILES = 32  # per bundle: a bundle of many input files closes its oldest file
_UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')


class RunFile(NamedTuple):
  """A file a run wrote: its ``role`` (rows, dead_letters, aggregates), the input file its
  records come from (``source``; None: records of no file), its ``path`` and ``rows``."""
  role: str
  source: Optional[str]
  path: str
  rows: int


class _WriteRunFilesFn(beam.DoFn):

  def __init__(self, role, folder, sink_factory, suffix):
    self._role, self._folder, self._suffix = role, folder, suffix
    self._sink_factory = sink_factory

  def setup(self):
    self._folder_made = '://' in self._folder  # object stores have no folders to make

  def start_bundle(self):
    self._open = {}  # (window, source) -> [path, handle, sink, rows]

  def process(self, element, window=beam.DoFn.WindowParam):
    source_id, record = element
    key = (window, file_of(source_id))
    entry = self._open.get(key)
    if entry is None:
      if len(self._open) >= _MAX_OPEN_FILES:
        yield self._close(next(iter(self._open)))
      entry = self._open[key] = self._create(key[1])
    entry[2].write(record)
    entry[3] += 1

  def _create(self, source):
    if not self._folder_made:
      os.makedirs(self._folder, exist_ok=True)
      self._folder_made = True
    name = _UNSAFE.sub('_', os.path.basename(source or ''))[:80]
    path = f'{self._folder}/part-{name + "-" if name else ""}{uuid.uuid4().hex[:12]}{self._suffix}'
    handle = FileSystems.create(path)
    sink = self._sink_factory()
    sink.open(handle)
    return [path, handle, sink, 0]

  def _close(self, key):
    path, handle, sink, rows = self._open.pop(key)
    sink.flush()
    handle.close()
    window = key[0]
    return WindowedValue(RunFile(self._role, key[1], path, rows), window.max_timestamp(),
                         [window])

  def finish_bundle(self):
    for key in list(self._open):
      yield self._close(key)


class WriteRunFiles(beam.PTransform):
  """``(source id, record)`` pairs in (a record as the sink's ``write`` takes it); one file
  per bundle and input file under ``folder``; ``RunFile``s out, when each file is closed."""

  def __init__(self, role, folder, sink_factory, suffix, label=None):
    super().__init__(label)
    if role not in ROLES:
      raise ValueError(f'role must be one of {"|".join(ROLES)}, got {role!r}')
    self._fn = _WriteRunFilesFn(role, folder.rstrip('/'), sink_factory, suffix)

  def expand(self, records):
    return records | 'WriteFiles' >> beam.ParDo(self._fn).with_output_types(RunFile)


class LakeCommit:
  """Collects what a lake sink run writes; ``CommitLakeLoads(commit)`` commits it.

  Args:
    config: a ``LoadConfig`` with ``manifest_path`` (mode ``incremental`` or ``replace``).
    pipeline_name: recorded in the manifest.
  """

  def __init__(self, config, pipeline_name=None):
    self.config = committing_config(config, 'LakeCommit')
    if config.manifest_path is None:
      raise ValueError('LakeCommit: the LoadConfig has no manifest_path (a lake manifest)')
    self.pipeline_name = pipeline_name
    self.written = {}
    self.entries = None

  def write_files(self, records, role, base_path, sink_factory, suffix):
    """Writes ``(source id, record)`` pairs of ``role`` under ``<base_path>/run=<run_id>``;
    what a file sink given ``commit=`` does instead of writing with Beam's file sinks."""
    if role in self.written:
      raise ValueError(f'LakeCommit: two sinks wrote files as {role!r}')
    self.written[role] = records | 'WriteRunFiles' >> WriteRunFiles(
        role, run_folder(base_path, self.config.run_id), sink_factory, suffix)

  def add_entries(self, entries):
    """The manifest entries of the files read (``SelectFilesToLoad(...).entries``)."""
    if self.entries is not None:
      raise ValueError('LakeCommit: manifest entries were added already')
    self.entries = entries


def run_manifest(config, entries, files, committed, pipeline_name, now):
  """The manifest of a run (``lake_manifest``) from its file ``entries``, its ``RunFile``s
  and the manifests ``committed`` before it; entries another run loaded meanwhile (more loads
  of the path than the run saw) are left out with their files. Returns (manifest, offered)."""
  loads = {}
  for row in file_rows(committed):
    loads[row['path']] = loads.get(row['path'], 0) + 1
  fresh = [e for e in entries
           if config.mode == 'replace' or loads.get(e['path'], 0) == e['previous_loads']]
  fresh_paths = {e['path'] for e in fresh}
  outputs, by_source = {}, {}
  for f in files:
    if f.source is None or f.source in fresh_paths:
      outputs.setdefault(f.role, []).append(f.path)
      by_source.setdefault(f.source, []).append(f)
  when = now.isoformat()
  manifest = {'run_id': config.run_id, 'mode': config.mode, 'pipeline': pipeline_name,
              'committed_at': when, 'sequence': 1 + max(
                  (m.get('sequence', 0) for m in committed), default=0),
              'outputs': {role: sorted(paths) for role, paths in outputs.items()},
              'files': [], 'superseded_runs': [], 'superseded_outputs': []}
  for entry in sorted(fresh, key=lambda e: e['path']):
    mine = by_source.get(entry['path'], [])
    manifest['files'].append(dict(
        {k: v for k, v in entry.items() if k != 'previous_loads'},
        rows=sum(f.rows for f in mine if f.role == 'rows'),
        dead_letters=sum(f.rows for f in mine if f.role == 'dead_letters'),
        run_id=config.run_id, loaded_at=when,
        outputs={r: sorted(f.path for f in mine if f.role == r)
                 for r in sorted({f.role for f in mine})}))
  if config.mode == 'replace':
    manifest['superseded_runs'] = sorted({run for files_of in live_outputs(committed).values()
                                          for run in files_of.values()})
  else:
    manifest['superseded_outputs'] = _earlier_outputs(
        committed, {e['path'] for e in fresh if e['action'] == 'reload'})
  return manifest, len(entries)


def _earlier_outputs(committed, reloaded):
  """The live output files of earlier loads of the ``reloaded`` input files."""
  live = set().union(*live_outputs(committed).values()) if committed else set()
  out = set()
  for manifest in committed:
    for entry in manifest.get('files', ()):
      if entry['path'] in reloaded:
        out.update(p for paths in entry.get('outputs', {}).values() for p in paths if p in live)
  return sorted(out)


class _CommitLakeFn(beam.DoFn):

  def __init__(self, config, pipeline_name):
    self._config = config
    self._pipeline_name = pipeline_name
    self._counters = {name: Metrics.counter('load', name) for name in (
        'commits', 'files_committed', 'files_conflicted', 'rows_committed',
        'dead_letters_committed')}

  def process(self, element):
    items = list(element[1])
    entries = [item for kind, item in items if kind == _ENTRY]
    files = [item for kind, item in items if kind != _ENTRY]
    if not entries:  # nothing read: nothing to commit
      return
    config = self._config
    folder = config.manifest_path
    committed = read_manifests(folder)
    if any(m['run_id'] == config.run_id for m in committed):
      _LOG.info('run %s is committed already (a retried commit)', config.run_id)
      return
    manifest, offered = run_manifest(config, entries, files, committed, self._pipeline_name,
                                     datetime.datetime.now(datetime.timezone.utc))
    path = write_manifest(folder, manifest)
    outcome = CommitOutcome(config.run_id, len(manifest['files']), offered,
                            sum(e['rows'] for e in manifest['files']),
                            sum(e['dead_letters'] for e in manifest['files']))
    if outcome.files < outcome.offered:
      _LOG.warning('commit %s: %d of %d file(s) were loaded by another run meanwhile; their '
                   'files were left out', config.run_id, outcome.offered - outcome.files,
                   outcome.offered)
    _LOG.info('committed %s: %s', path, outcome)
    for name, value in (('commits', 1), ('files_committed', outcome.files),
                        ('files_conflicted', outcome.offered - outcome.files),
                        ('rows_committed', outcome.rows),
                        ('dead_letters_committed', outcome.dead_letters)):
      self._counters[name].inc(value)
    yield outcome


class CommitLakeLoads(beam.PTransform):
  """PBegin in (apply it after the sinks); one ``CommitOutcome`` out when the run committed.
  Counters as ``CommitLoads``: ``load/commits``, ``load/files_committed``,
  ``load/files_conflicted``, ``load/rows_committed``, ``load/dead_letters_committed``."""

  def __init__(self, commit, label=None):
    super().__init__(label)
    if not isinstance(commit, LakeCommit):
      raise ValueError(f'commit must be a LakeCommit, got {type(commit).__name__}')
    if commit.entries is None:
      raise ValueError('CommitLakeLoads: the LakeCommit has no manifest entries (add_entries)')
    self._commit = commit

  def expand(self, pbegin):
    commit = self._commit
    keyed = [commit.entries | 'KeyEntries' >> beam.Map(lambda e: (0, (_ENTRY, e)))]
    for role, written in sorted(commit.written.items()):
      keyed.append(written | f'Key_{role}' >> beam.Map(
          lambda f: (0, ('file', f))).with_input_types(RunFile))
    return (tuple(keyed)
            | 'Gather' >> beam.Flatten()
            | 'Together' >> beam.GroupByKey()
            | 'Commit' >> beam.ParDo(_CommitLakeFn(commit.config, commit.pipeline_name)))

