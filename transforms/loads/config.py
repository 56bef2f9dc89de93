"""``LoadConfig``: how a run of file loads commits (``--load_mode``, ``--changed_files``, the
manifest table, where staging files go).

Modes:
- ``incremental``: each input file (path plus identity: size and modification time) is
  loaded exactly once across runs; files the manifest already lists are skipped.
- ``append``: every file read is appended (no manifest, no commit step: Beam's sinks).
- ``replace``: the run's result replaces the tables' content (the partitions it touches, for
  a partitioned table) in one transaction.

A file whose identity changed since it was loaded (``changed_files``): ``error`` (the run
fails before anything is committed, naming the file), ``skip`` (left as loaded, counted) or
``reload`` (its earlier rows and dead letters are deleted and the new version loaded, in the
same transaction; needs ``source_file_column`` to find the earlier rows).

The manifest is a BigQuery table (``manifest_table``: rows go to BigQuery) or, for a lake
sink, manifest files in a folder (``manifest_path``: ``beam_pipelines.transforms.loads.lake_manifest``).
"""

import datetime
import os
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Optional

from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.retry_budget import check_retry_budget

LOAD_MODES = ('incremental', 'append', 'replace')
CHANGED_FILES = ('error', 'skip', 'reload')
MANIFEST_TABLE_SUFFIX = '_loads'
_RUN_ID = re.compile(r'^[A-Za-z0-9_\-]{1,64}$')


def new_run_id(now=None):
  """``20261204T201500Z_1a2b3c4d``: when the run was built, and 8 random hex digits."""
  now = now or datetime.datetime.now(datetime.timezone.utc)
  return now.strftime('%Y%m%dT%H%M%SZ') + '_' + uuid.uuid4().hex[:8]


def default_manifest_table(output_table):
  """``<output_table>_loads``."""
  parse_table_spec(output_table, 'output_table')
  return output_table + MANIFEST_TABLE_SUFFIX


def staging_folder(temp_location, run_id):
  """Where a run's staging files go: ``<temp_location>/loads/<run_id>`` (a local temp folder
  when no temp location is given)."""
  base = temp_location or os.path.join(tempfile.gettempdir(), 'beam_pipelines')
  return base.rstrip('/') + '/loads/' + run_id


@dataclass(frozen=True)
class LoadConfig:
  """How a run's file loads are recorded and committed.

  Attributes:
    manifest_table: ``[PROJECT:]DATASET.TABLE`` of the manifest (one row per file per
      committed load); created if needed. None with ``manifest_path``.
    mode: ``incremental``, ``append`` or ``replace`` (module docstring).
    changed_files: ``error``, ``skip`` or ``reload``: a file changed since it was loaded.
    staging_location: a folder (local or ``gs://``) for the run's staging files; default
      ``staging_folder(None, run_id)``.
    run_id: names the run in the manifest and its staging tables; default ``new_run_id()``.
    retry_budget_seconds: the commit's BigQuery calls: 0 retries transient failures without
      limit, else the run fails once they have failed this long without a success.
    project: the project of table specs without one (None: the client's default).
    source_file_column: a STRING column of the rows table holding each row's input file
      (``reload`` deletes a file's earlier rows by it); None: no such column.
    manifest_path: instead of ``manifest_table``: the folder of a lake sink's manifest files
      (``lake_manifest.manifest_folder(output_path)``); ``reload`` needs no column there.
    settle_seconds: a file modified less than this long before it was matched may still be
      being written: it is left for a later run (``read/files_settling``); 0: none is left.
      Watching (``--watch_interval``) sets it to the interval.
  """
  manifest_table: Optional[str]
  mode: str = 'incremental'
  changed_files: str = 'error'
  staging_location: Optional[str] = None
  run_id: str = field(default_factory=new_run_id)
  retry_budget_seconds: float = 0
  project: Optional[str] = None
  source_file_column: Optional[str] = None
  manifest_path: Optional[str] = None
  settle_seconds: float = 0

  def __post_init__(self):
    if (self.manifest_table is None) == (self.manifest_path is None):
      raise ValueError('manifest_table: give a manifest table or a manifest_path, not both '
                       'nor neither')
    if self.manifest_table is not None:
      parse_table_spec(self.manifest_table, 'manifest_table')
    if self.mode not in LOAD_MODES:
      raise ValueError(f'mode must be one of {"|".join(LOAD_MODES)}, got {self.mode!r}')
    if self.changed_files not in CHANGED_FILES:
      raise ValueError(f'changed_files must be one of {"|".join(CHANGED_FILES)}, got '
                       f'{self.changed_files!r}')
    if not _RUN_ID.match(self.run_id or ''):
      raise ValueError(f'run_id must be 1-64 letters, digits, _ or -, got {self.run_id!r}')
    check_retry_budget(self.retry_budget_seconds)
    if not isinstance(self.settle_seconds, (int, float)) or isinstance(
        self.settle_seconds, bool) or not 0 <= self.settle_seconds < float('inf'):
      raise ValueError(f'settle_seconds must be a number of seconds >= 0, got '
                       f'{self.settle_seconds!r}')
    if self.changed_files == 'reload' and self.mode == 'incremental' and \
        not self.source_file_column and self.manifest_path is None:
      raise ValueError('changed_files reload needs source_file_column: the earlier version '
                       "of a changed file is replaced, and its rows are found by that column")
    if self.staging_location is None:
      object.__setattr__(self, 'staging_location', staging_folder(None, self.run_id))

  @property
  def commits(self):
    """True when the run commits through the manifest (incremental and replace)."""
    return self.mode != 'append'


def committing_config(config, who):
  """``config`` when it is a LoadConfig of a committing mode (incremental, replace); else
  ValueError naming ``who``."""
  if not isinstance(config, LoadConfig):
    raise ValueError(f'config must be a LoadConfig, got {type(config).__name__}')
  if not config.commits:
    raise ValueError(f'{who}: load mode append writes every file through the sinks (no '
                     'manifest, no commit)')
  return config
