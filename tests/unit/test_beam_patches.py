"""Beam patches are opt-in, version-checked, and the library is correct with every one off."""

import glob
import json
import logging
import os
import subprocess
import sys

import pytest

from beam_pipelines.transforms import beam_patches

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def test_every_patch_is_listed_with_its_module_and_beam_symbol():
  import importlib
  assert set(beam_patches.ALL) == {
      'global_window', 'bigquery_emulator', 'bigquery_retry_budget',
      'direct_runner_pubsub_pull', 'direct_runner_metrics', 'direct_runner_signatures',
      'bigquery_row_size'}
  for patch in beam_patches.PATCHES.values():
    assert callable(importlib.import_module(patch.module).apply)
    assert patch.beam_symbol.startswith('apache_beam.')
    assert f'``{patch.name}``' in beam_patches.__doc__  # the table in the docstring


def test_an_unknown_patch_is_refused_by_name():
  with pytest.raises(ValueError, match="unknown Beam patch 'global_windows'"):
    beam_patches.enable('global_windows')


def test_minor_version_parsing():
  assert beam_patches.beam_minor_version('2.77.0') == '2.77'
  assert beam_patches.beam_minor_version('2.78.0rc1') == '2.78'


def _run(code):
  return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        cwd=REPO, check=True)


def test_a_patch_written_for_another_beam_version_stays_off_with_one_warning():
  proc = _run(
      'import logging, apache_beam\n'
      'logging.basicConfig(level=logging.WARNING)\n'
      'apache_beam.__version__ = "2.99.0"\n'
      'from apache_beam.transforms import window\n'
      'original = window.GlobalWindow._getTimestampFromProto\n'
      'from transforms import beam_patches\n'
      'print(beam_patches.enable("global_window"), beam_patches.enable("global_window"))\n'
      'print(window.GlobalWindow._getTimestampFromProto is original, '
      'sorted(beam_patches.enabled()))\n')
  assert proc.stdout.splitlines() == ['() ()', 'True []']
  warnings = [line for line in proc.stderr.splitlines() if 'left off' in line]
  assert len(warnings) == 1 and 'global_window' in warnings[0] and '2.99.0' in warnings[0]


def test_enable_is_idempotent_and_reported(caplog):
  caplog.set_level(logging.WARNING)
  assert beam_patches.enable('global_window') == ('global_window',)
  assert beam_patches.enable('global_window') == ('global_window',)
  assert beam_patches.is_enabled('global_window')
  assert 'global_window' in beam_patches.enabled()


def _outputs(out):
  def lines(prefix, drop=()):
    records = []
    for path in glob.glob(os.path.join(out, prefix + '*')):
      with open(path, encoding='utf-8') as f:  # the sinks write valid UTF-8
        records += [{k: v for k, v in json.loads(line).items() if k not in drop} for line in f]
    return sorted(json.dumps(r, sort_keys=True) for r in records)
  return {'rows': lines('rows'), 'aggregates': lines('aggregates'),
          # a dead letter's own timestamp is when it was made
          'dead_letters': lines('dead_letters', drop=('timestamp',))}


@pytest.mark.slow
def test_the_core_chain_is_correct_with_every_patch_off(tmp_path):
  """The library's transforms, composed as a user would, with no patch switched on: nothing
  is patched as a side effect of using them, and the outputs are the ones the fully patched
  run gives, which account for every input record."""
  events = tmp_path / 'events.jsonl'
  with open(os.path.join(REPO, 'samples', 'events.jsonl'), 'rb') as f:
    events.write_bytes(b''.join(f.readlines()[:600]))  # bad bytes and all
  script = os.path.join(HERE, 'core_chain_script.py')
  runs = {}
  for patched in (False, True):
    out = tmp_path / ('patched' if patched else 'unpatched')
    proc = subprocess.run([sys.executable, script, str(events), str(out)]
                          + (['--patches'] if patched else []),
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs[patched] = (json.loads(proc.stdout.splitlines()[-1]), _outputs(str(out)))
  unpatched_state, unpatched = runs[False]
  patched_state, patched = runs[True]
  assert unpatched_state['enabled'] == []
  # Every patched symbol is still Beam's own after a whole run with every transform.
  assert all(module.startswith('apache_beam.')
             for module in unpatched_state['symbols'].values()), unpatched_state
  assert patched_state['enabled'] == sorted(beam_patches.ALL)
  assert not all(module.startswith('apache_beam.')
                 for module in patched_state['symbols'].values())
  assert unpatched == patched
  # 600 records in: each is a row or a dead letter (the sample has no erase list here).
  assert len(unpatched['rows']) + len(unpatched['dead_letters']) == 600
  assert len(unpatched['rows']) > 500 and unpatched['aggregates']
  assert sum(json.loads(a)['count'] for a in unpatched['aggregates']) == \
      len(unpatched['rows'])
