"""The lake sink's manifest logic without a pipeline: which files are live after a sequence
of commits, what a commit leaves out when another run committed a file meanwhile, and the
configs that cannot describe a lake commit."""

import datetime

import pytest

from beam_pipelines.transforms.loads import LakeCommit, LoadCommit, LoadConfig
from beam_pipelines.transforms.loads.lake_commit import RunFile, run_manifest
from beam_pipelines.transforms.loads.lake_manifest import (committed_files, committed_outputs,
                                                           live_outputs, manifest_folder,
                                                           read_manifests, write_manifest)

NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)


def entry(path, action='new', previous_loads=0):
  return {'path': path, 'identity': f'size=1;mtime={previous_loads}', 'size_bytes': 1,
          'modified': None, 'action': action, 'previous_loads': previous_loads}


def config(tmp_path, run_id, mode='incremental'):
  return LoadConfig(None, mode=mode, run_id=run_id,
                    manifest_path=manifest_folder(str(tmp_path / 'lake')))


def commit(tmp_path, run_id, entries, files, mode='incremental'):
  cfg = config(tmp_path, run_id, mode)
  manifest, _ = run_manifest(cfg, entries, files, read_manifests(cfg.manifest_path), 'p', NOW)
  write_manifest(cfg.manifest_path, manifest)
  return manifest


def test_reload_and_replace_switch_the_live_files_in_one_manifest(tmp_path):
  out = str(tmp_path / 'lake')
  commit(tmp_path, 'r1', [entry('a'), entry('b')],
         [RunFile('rows', 'a', 'A1', 3), RunFile('rows', 'b', 'B1', 2),
          RunFile('dead_letters', 'a', 'DA1', 1)])
  assert committed_outputs(out) == {'rows': ['A1', 'B1'], 'dead_letters': ['DA1'],
                                    'aggregates': []}
  reload = commit(tmp_path, 'r2', [entry('a', 'reload', 1)], [RunFile('rows', 'a', 'A2', 4)])
  assert reload['superseded_outputs'] == ['A1', 'DA1'] and reload['sequence'] == 2
  assert reload['files'][0]['rows'] == 4 and reload['files'][0]['dead_letters'] == 0
  assert committed_files(out) == ['A2', 'B1'] and committed_files(out, 'dead_letters') == []
  replace = commit(tmp_path, 'r3', [entry('c', 'replace')], [RunFile('rows', 'c', 'C3', 1)],
                   mode='replace')
  assert replace['superseded_runs'] == ['r1', 'r2']
  assert committed_files(out) == ['C3']
  with pytest.raises(ValueError, match='role'):
    committed_files(out, 'quality')


def test_a_file_another_run_committed_meanwhile_is_left_out_with_its_files(tmp_path):
  commit(tmp_path, 'other', [entry('a')], [RunFile('rows', 'a', 'A0', 5)])
  cfg = config(tmp_path, 'mine')
  # this run looked before 'other' committed: it saw no load of a
  manifest, offered = run_manifest(
      cfg, [entry('a'), entry('b')],
      [RunFile('rows', 'a', 'A1', 5), RunFile('rows', 'b', 'B1', 2),
       RunFile('dead_letters', None, 'D1', 1)], read_manifests(cfg.manifest_path), 'p', NOW)
  assert offered == 2 and [e['path'] for e in manifest['files']] == ['b']
  assert manifest['outputs'] == {'rows': ['B1'], 'dead_letters': ['D1']}


def test_live_outputs_of_no_manifest_is_nothing(tmp_path):
  assert live_outputs([]) == {}
  assert committed_files(str(tmp_path / 'none')) == []


def test_a_lake_config_names_one_manifest_and_fits_only_a_lake_commit(tmp_path):
  with pytest.raises(ValueError, match='^manifest_table: give a manifest table or'):
    LoadConfig('ds.t', manifest_path=str(tmp_path))
  with pytest.raises(ValueError, match='^manifest_table: give a manifest table or'):
    LoadConfig(None)
  lake = LoadConfig(None, changed_files='reload', manifest_path=str(tmp_path))  # no column
  with pytest.raises(ValueError, match='use LakeCommit'):
    LoadCommit(lake)
  with pytest.raises(ValueError, match='no manifest_path'):
    LakeCommit(LoadConfig('ds.t'))
