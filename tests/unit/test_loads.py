"""The pieces of exactly-once loads that need no BigQuery: the config's checks, what the
manifest says of a file, staging schemas and the commit script's shape (the script itself
runs against the emulator in tests/e2e/test_exactly_once_loads.py)."""

import datetime
from types import SimpleNamespace

import pytest

from beam_pipelines.transforms.loads import LoadConfig, default_manifest_table
from beam_pipelines.transforms.loads.manifest import (classify, file_entry, file_identity,
                                                      file_of, glob_prefix, manifest_state)
from beam_pipelines.transforms.loads.sql import CommitSql, Target
from beam_pipelines.transforms.loads.stage import base64_columns, staging_schema

UTC = datetime.timezone.utc


def test_config_checks_name_the_argument():
  with pytest.raises(ValueError, match='^mode must be one of incremental|append|replace'):
    LoadConfig('ds.t_loads', mode='upsert')
  with pytest.raises(ValueError, match='^changed_files'):
    LoadConfig('ds.t_loads', changed_files='ignore')
  with pytest.raises(ValueError, match='needs source_file_column'):
    LoadConfig('ds.t_loads', changed_files='reload')
  with pytest.raises(ValueError, match='^run_id'):
    LoadConfig('ds.t_loads', run_id='has space')
  assert LoadConfig('ds.t_loads', mode='append').commits is False
  assert LoadConfig('ds.t_loads').commits is True
  assert default_manifest_table('my-project:ds.events') == 'my-project:ds.events_loads'
  for bad in (-1, float('inf'), '5', True):
    with pytest.raises(ValueError, match='^settle_seconds'):
      LoadConfig('ds.t_loads', settle_seconds=bad)


def test_a_file_modified_within_settle_seconds_waits_for_a_later_run():
  """Decided before the manifest is read (``replace`` reads none, so no BigQuery here)."""
  import time

  import apache_beam as beam
  from apache_beam.io.filesystem import FileMetadata
  from apache_beam.testing.test_pipeline import TestPipeline
  from apache_beam.testing.util import assert_that, equal_to

  from beam_pipelines.transforms.loads import SelectFilesToLoad

  now = time.time()
  files = [FileMetadata('/in/old.jsonl', 10, last_updated_in_seconds=now - 60),
           FileMetadata('/in/writing.jsonl', 10, last_updated_in_seconds=now - 1)]
  for settle, expected in ((30, ['/in/old.jsonl']),
                           (0, ['/in/old.jsonl', '/in/writing.jsonl'])):
    config = LoadConfig('ds.t_loads', mode='replace', settle_seconds=settle)
    with TestPipeline(runner='FnApiRunner') as p:
      chosen = p | beam.Create(files) | SelectFilesToLoad(config, '/in/*.jsonl')
      assert_that(chosen.files | beam.Map(lambda m: m.path), equal_to(expected))


def test_a_file_is_its_path_size_and_modification_time():
  meta = SimpleNamespace(path='/in/a.jsonl', size_in_bytes=10, last_updated_in_seconds=5.5)
  assert file_identity(meta) == 'size=10;mtime=5.500000'
  entry = file_entry(meta, 'new', 0)
  assert entry['modified'] == '1970-01-01T00:00:05.500000+00:00'
  assert (entry['path'], entry['action'], entry['previous_loads']) == ('/in/a.jsonl', 'new', 0)
  assert file_of('/in/a.jsonl:12') == '/in/a.jsonl'
  assert file_of('gs://b/x:y.csv:3') == 'gs://b/x:y.csv'
  assert file_of('no position') is None and file_of(None) is None
  assert glob_prefix('gs://b/events/*.jsonl') == 'gs://b/events/'
  assert glob_prefix('/in/a.jsonl') == '/in/a.jsonl'


def test_the_latest_load_of_a_path_decides():
  t0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
  state = manifest_state([
      {'path': 'a', 'identity': 'v1', 'loaded_at': t0, 'run_id': 'r1'},
      {'path': 'a', 'identity': 'v2', 'loaded_at': t0 + datetime.timedelta(hours=1),
       'run_id': 'r2'},
      {'path': 'b', 'identity': 'v1', 'loaded_at': t0, 'run_id': 'r1'}])
  assert state['a'].identity == 'v2' and state['a'].loads == 2
  assert classify(state['a'], 'v2') == 'loaded'
  assert classify(state['a'], 'v1') == 'changed'
  assert classify(state.get('c'), 'v1') == 'new'


def test_bytes_columns_are_staged_as_text():
  schema = {'fields': [{'name': 'b', 'type': 'BYTES', 'mode': 'REQUIRED'},
                       {'name': 'bs', 'type': 'BYTES', 'mode': 'REPEATED'},
                       {'name': 's', 'type': 'STRING'}]}
  assert base64_columns(schema) == (('b', False), ('bs', True))
  staged = staging_schema(schema)
  assert [(f.name, f.type) for f in staged.fields] == [
      ('b', 'STRING'), ('bs', 'STRING'), ('s', 'STRING'), ('_bp_load_file', 'STRING')]
  with pytest.raises(ValueError, match='reserved'):
    staging_schema({'fields': [{'name': '_bp_load_file', 'type': 'STRING'}]})


def _script(mode, **kwargs):
  sql = CommitSql(mode, 'p.ds.t_loads', 'p.ds.t_loads_files_1', 'run_1', 'pipe', 'p:ds.t',
                  **kwargs)
  return sql.script([
      Target('rows', 'p.ds.t', ('id', 'b'), 'p.ds.t_stage_1', None, (('b', False),)),
      Target('dead_letters', 'p.ds.t_error_records', ('sourceId',), 'p.ds.e_stage_1')])


def test_the_commit_is_one_transaction_done_once_per_commit_id():
  script = _script('incremental')
  assert script.startswith('BEGIN TRANSACTION;\nIF NOT EXISTS (SELECT 1 FROM '
                           "`p.ds.t_loads` WHERE run_id = 'run_1') THEN")
  body = script[:script.index('COMMIT TRANSACTION;')]
  assert body.count('INSERT INTO') == 3  # rows, dead letters, manifest: all inside
  deletes = [s for s in body.split(';') if 'DELETE' in s]
  # incremental deletes only what earlier loads of reloaded files committed
  assert deletes and all("f.action = 'reload'" in s for s in deletes)
  assert 'FROM_BASE64(s.`b`)' in body
  assert 'f.previous_loads = (SELECT COUNT(*)' in body  # the optimistic check per file


def test_replace_and_reload_delete_inside_the_transaction():
  replace = _script('replace')
  body = replace[:replace.index('COMMIT TRANSACTION;')]
  assert 'DELETE FROM `p.ds.t` WHERE TRUE' in body
  assert 'DELETE FROM `p.ds.t_error_records` WHERE' in body
  reload = _script('incremental', source_file_column='source_file')
  body = reload[:reload.index('COMMIT TRANSACTION;')]
  assert "DELETE FROM `p.ds.t` WHERE `source_file` IN" in body
  assert "f.action = 'reload'" in body


def test_the_commit_steps_refuse_append():
  from beam_pipelines.transforms.loads import LoadCommit, SelectFilesToLoad
  append = LoadConfig('ds.t_loads', mode='append')
  with pytest.raises(ValueError, match='^LoadCommit: load mode append'):
    LoadCommit(append)
  with pytest.raises(ValueError, match='^SelectFilesToLoad: load mode append'):
    SelectFilesToLoad(append, '/in/*.jsonl')
  with pytest.raises(ValueError, match='^config must be a LoadConfig'):
    LoadCommit({'mode': 'incremental'})
