"""The steps of exactly-once file loads in the chain (``--load_mode`` incremental and
replace): which files a run reads (matched, or named by notifications when streaming), the ``LoadCommit`` its BigQuery sinks stage for (or the
``LakeCommit`` its file sinks write for, with ``--output_path``), and the source file column.
``beam_pipelines.chain`` wires them; ``commit_loads`` ends the chain."""

from typing import NamedTuple, Optional

import apache_beam as beam

from beam_pipelines.transforms.core.elements import RowDict, source_id_of
from beam_pipelines.transforms.loads import (CommitLakeLoads, CommitLoads, CommitWindows,
                                             LakeCommit, LoadCommit, ReadFileNotifications,
                                             SelectFilesToLoad, manifest_schema)
from beam_pipelines.transforms.loads.manifest import file_of
from beam_pipelines.transforms.read import ReadEvents
from beam_pipelines.transforms.read.files import match_files
from beam_pipelines.transforms.write.bigquery import pipeline_project
from beam_pipelines.transforms.write.create_table import CreateTableAtStart


class ReadResult(NamedTuple):
  """What ``read_events`` returns: records, read dead letters, and the LoadCommit the sinks
  stage for (None: they write as they go)."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  commit: Optional[LoadCommit]


def read_events(p, cfg, batched=False):
  """Step 'ReadEvents' (``batched``: rows in batches, see ``ReadEvents``); when the run
  commits through the manifest (load modes incremental
  and replace), first 'CreateManifestTable', 'MatchFiles' and 'SelectFiles', which hand
  ReadEvents the files to load and the LoadCommit their manifest entries."""
  if not cfg.commits:
    read = p | 'ReadEvents' >> ReadEvents(cfg.source, batched=batched)
    return ReadResult(read.rows, read.dead_letters, None)
  loads = cfg.loads
  created = None  # a lake sink's manifest files need no table
  if loads.manifest_table is not None:
    created = p | 'CreateManifestTable' >> CreateTableAtStart(
        loads.manifest_table, manifest_schema().to_json(), pipeline_project(p),
        loads.retry_budget_seconds, layout=cfg.layouts.manifest)
  notified = None
  if cfg.notifications is not None:  # streaming: the files notifications name, per window
    notified = p | 'ReadNotifications' >> ReadFileNotifications(
        cfg.notifications, pipeline_name=cfg.pipeline_name)
    matched = notified.rows
  else:
    matched = p | 'MatchFiles' >> match_files(cfg.source)
  files = matched | 'SelectFiles' >> SelectFilesToLoad(
      loads, cfg.source.pattern, manifest_created=created, pipeline_name=cfg.pipeline_name)
  if loads.manifest_table is None:
    commit = LakeCommit(loads, pipeline_name=cfg.pipeline_name)
  else:
    commit = LoadCommit(loads, pipeline_name=cfg.pipeline_name, output_table=cfg.sink.table)
  commit.add_entries(files.entries)
  read = files.files | 'ReadEvents' >> ReadEvents(cfg.source, batched=batched)
  dead = [read.dead_letters, files.dead_letters]
  if notified is not None:
    dead.append(notified.dead_letters)
  dead = tuple(dead) | 'ReadDeadLetters' >> beam.Flatten()
  return ReadResult(read.rows, dead, commit)


def in_commit_windows(pcoll, label, cfg):
  """``pcoll`` (elements stamped with event time: aggregates, window dead letters, quality
  scores) moved into the commit windows of a streaming run (step ``label``); unchanged
  otherwise."""
  if cfg.notifications is None or not cfg.commits:
    return pcoll
  return pcoll | label >> CommitWindows(cfg.notifications.commit_interval_seconds)


def commit_loads(p, commit):
  """Step 'CommitLoads': the run's one commit, into BigQuery or a lake's manifest files."""
  if commit is None:
    return None
  return p | 'CommitLoads' >> (CommitLakeLoads(commit) if isinstance(commit, LakeCommit)
                               else CommitLoads(commit))


def _with_source_file(row, column):
  row = dict(row)
  row[column] = file_of(source_id_of(row))
  return row


def add_source_file(rows, loads):
  """Step 'AddSourceFile' (``--source_file_column``): each row gets its input file."""
  column = loads.source_file_column if loads is not None else None
  if not column:
    return rows
  return rows | 'AddSourceFile' >> beam.Map(_with_source_file, column).with_output_types(
      RowDict)
