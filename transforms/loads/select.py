"""SelectFilesToLoad: matched files in, the ones this run loads out, decided by the manifest.

Each matched file (a ``FileMetadata``: path, size, modification time) is looked up in the
manifest by path: a file whose latest load has the same identity is skipped
(``read/files_skipped``); a new file is loaded; a changed one is handled as
``LoadConfig.changed_files`` says (``read/files_changed``). In ``replace`` mode every matched
file is loaded. With ``LoadConfig.settle_seconds``, a file modified more recently than that
may still be being written: it is left for a later run (``read/files_settling``). The
manifest is read once per bundle (the rows of paths under the pattern's literal prefix; from
the manifest table or a lake sink's manifest files: ``stores``), after the step that creates
it at the start of the run.
"""

import logging
import time
from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, make_dead_letter
from beam_pipelines.transforms.loads.config import committing_config
from beam_pipelines.transforms.loads.manifest import (classify, file_entry, file_identity,
                                                      glob_prefix, manifest_state)
from beam_pipelines.transforms.loads.stores import manifest_store

_LOG = logging.getLogger(__name__)
FILES_TAG = 'files'
ENTRIES_TAG = 'entries'


class ChangedFileError(RuntimeError):
  """A file changed since it was loaded, with ``changed_files='error'``."""


class FilesToLoad(NamedTuple):
  """What SelectFilesToLoad returns: ``files`` (FileMetadata to read), ``entries`` (one
  manifest entry per file, for the commit) and ``dead_letters`` (streaming, with
  ``changed_files='error'``: one per changed file)."""
  files: beam.PCollection
  entries: beam.PCollection
  dead_letters: beam.PCollection


class _SelectFn(beam.DoFn):

  def __init__(self, config, pattern, streaming, pipeline_name):
    self._config = config
    self._prefix = glob_prefix(pattern)
    self._streaming = streaming
    self._pipeline_name = pipeline_name
    self._counters = {name: Metrics.counter('read', name) for name in (
        'files_matched', 'files_skipped', 'files_changed', 'files_to_load', 'files_settling')}

  def setup(self):
    self._store = manifest_store(self._config)

  def teardown(self):
    self._store.close()

  def start_bundle(self):
    self._state = None

  def _manifest(self):
    if self._state is None:
      self._state = manifest_state(self._store.rows(self._prefix))
    return self._state

  def process(self, metadata, *unused_manifest_created):
    self._counters['files_matched'].inc()
    config = self._config
    if self._settling(metadata):
      self._counters['files_settling'].inc()
      return
    if config.mode == 'replace':
      yield from self._load(metadata, 'replace', 0)
      return
    state = self._manifest().get(metadata.path)
    kind = classify(state, file_identity(metadata))
    if kind == 'loaded':
      self._counters['files_skipped'].inc()
      return
    if kind == 'changed':
      self._counters['files_changed'].inc()
      message = (f'{metadata.path} changed since it was loaded ({state.identity} then, '
                 f'{file_identity(metadata)} now)')
      if config.changed_files == 'skip':
        _LOG.warning('%s: skipped (--changed_files skip)', message)
        self._counters['files_skipped'].inc()
        return
      if config.changed_files == 'error':
        if not self._streaming:
          raise ChangedFileError(
              f'{message}; nothing of this run is committed. Rerun with --changed_files '
              'reload (replace its rows) or skip (keep them), or restore the file')
        _LOG.error('%s: not loaded (--changed_files error)', message)
        yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
            b'', stage='read', error_type='changed_file',
            message=f'{message}; not loaded (--changed_files error)',
            source_id=f'{metadata.path}:0', pipeline=self._pipeline_name))
        return
    yield from self._load(metadata, 'reload' if kind == 'changed' else 'new',
                          state.loads if state else 0)

  def _settling(self, metadata):
    """Modified less than ``settle_seconds`` ago (a file whose time is unknown is not)."""
    mtime = getattr(metadata, 'last_updated_in_seconds', None)
    return bool(self._config.settle_seconds and mtime
                and time.time() - float(mtime) < self._config.settle_seconds)

  def _load(self, metadata, action, previous_loads):
    self._counters['files_to_load'].inc()
    yield beam.pvalue.TaggedOutput(ENTRIES_TAG, file_entry(metadata, action, previous_loads))
    yield metadata


class SelectFilesToLoad(beam.PTransform):
  """Matched files (``FileMetadata``) in; ``FilesToLoad`` out (see the module docstring).

  Args:
    config: a ``LoadConfig``.
    pattern: the input pattern (its literal prefix bounds the manifest rows read).
    manifest_created: a PCollection that holds one element once the manifest table exists
      (``CreateTableAtStart``), or None when it exists already.
    pipeline_name: recorded in dead letters.

  Errors: a changed file with ``changed_files='error'`` raises ``ChangedFileError`` naming
  it (batch: the run fails before its commit); in a streaming pipeline
  (``ReadFileNotifications``) it becomes a ``changed_file`` dead letter instead, committed
  with its window, and the file is not loaded.
  """

  def __init__(self, config, pattern, *, manifest_created=None, pipeline_name=None,
               label=None):
    super().__init__(label)
    self._config = committing_config(config, 'SelectFilesToLoad')
    self._pattern = pattern
    self._created = manifest_created
    self._pipeline_name = pipeline_name

  def expand(self, matched):
    side = () if self._created is None else (beam.pvalue.AsList(self._created),)
    outputs = matched | 'Select' >> beam.ParDo(
        _SelectFn(self._config, self._pattern, not matched.is_bounded, self._pipeline_name),
        *side).with_outputs(ENTRIES_TAG, DEAD_LETTER_TAG, main=FILES_TAG)
    return FilesToLoad(files=outputs[FILES_TAG], entries=outputs[ENTRIES_TAG],
                       dead_letters=outputs[DEAD_LETTER_TAG])
