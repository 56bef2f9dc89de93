"""files_to_bigquery --output_path (a lake sink) with --load_mode incremental and replace:
a run's files become part of the output by one manifest file; a rerun adds nothing, a new
file among old ones is written once, a changed file is handled as --changed_files says, a
run killed (SIGKILL of its process tree) anywhere leaves nothing or everything and its rerun
every record exactly once. Reads go through ``committed_files``, as a user's would. Local
files only, no emulator."""

import glob
import json
import os
import subprocess
import sys
import threading

import pyarrow.parquet as pq
import pytest

from beam_pipelines import commands, files_to_bigquery
from beam_pipelines.transforms.loads import committed_files, committed_outputs, manifest_folder
from beam_pipelines.transforms.loads.lake_manifest import read_manifests

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'name', 'type': 'STRING'}]


def write_file(folder, name, ids, bad=1, mtime=None):
  """A JSONL file: one good row per id, then ``bad`` lines that are not JSON."""
  path = os.path.join(folder, name)
  with open(path, 'w') as f:
    for i in ids:
      f.write(json.dumps({'id': i, 'name': f'n{i}'}) + '\n')
    for j in range(bad):
      f.write('{"id": %d, broken\n' % (1000 + j))
  if mtime is not None:
    os.utime(path, (mtime, mtime))
  return path


@pytest.fixture
def setup(tmp_path):
  data = tmp_path / 'in'
  data.mkdir()
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  out = str(tmp_path / 'lake' / 'events')
  base = ['--input', str(data / '*.jsonl'), '--schema', str(schema), '--output_path', out]
  return {'data': str(data), 'base': base, 'out': out}


def load(setup, *extra):
  return files_to_bigquery.run(setup['base'] + list(extra), print_summary=False)[1]


def committed(setup):
  """(sorted ids of the committed rows, sorted sourceIds of the committed dead letters),
  from one reading of the manifests (``committed_outputs``)."""
  outputs = committed_outputs(setup['out'])
  ids = [r['id'] for f in outputs['rows'] for r in pq.read_table(f).to_pylist()]
  dead = []
  for path in outputs['dead_letters']:
    with open(path, encoding='utf-8') as f:
      dead += [json.loads(line)['sourceId'] for line in f]
  return sorted(ids), sorted(os.path.basename(d) for d in dead)


def manifest(setup):
  """(input file, rows, dead letters, action) of every committed manifest entry."""
  return sorted((os.path.basename(e['path']), e['rows'], e['dead_letters'], e['action'])
                for m in read_manifests(manifest_folder(setup['out'])) for e in m['files'])


A_DEAD = ['a.jsonl:6']
B_DEAD = ['b.jsonl:4', 'b.jsonl:5']


def test_rerun_adds_nothing_and_a_new_file_is_written_once(setup, capsys):
  write_file(setup['data'], 'a.jsonl', range(0, 5))
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2)
  first = load(setup)
  assert committed(setup) == (list(range(8)), A_DEAD + B_DEAD)
  assert commands.main(['lake-files', setup['out'], '--role', 'dead_letters']) == 0
  assert capsys.readouterr().out.split() == committed_files(setup['out'], 'dead_letters')
  assert manifest(setup) == [('a.jsonl', 5, 1, 'new'), ('b.jsonl', 3, 2, 'new')]
  assert (first['loads']['files_committed'], first['loads']['rows_committed'],
          first['loads']['dead_letters_committed']) == (2, 8, 3)

  again = load(setup)
  assert committed(setup) == (list(range(8)), A_DEAD + B_DEAD)
  assert (again['loads']['files_skipped'], again['loads']['files_committed']) == (2, 0)
  assert again['records_read'] == 0
  assert len(read_manifests(manifest_folder(setup['out']))) == 1  # a no-op run commits nothing

  write_file(setup['data'], 'c.jsonl', range(8, 12))
  third = load(setup)
  assert committed(setup) == (list(range(12)), A_DEAD + B_DEAD + ['c.jsonl:5'])
  assert (third['loads']['files_skipped'], third['loads']['files_committed']) == (2, 1)
  assert third['records_read'] == 5
  assert manifest(setup)[-1] == ('c.jsonl', 4, 1, 'new')


def test_append_mode_writes_everything_again_as_before(setup):
  """``--load_mode append`` keeps the prefix layout and Beam's sinks (no manifest)."""
  write_file(setup['data'], 'a.jsonl', range(4))
  load(setup, '--load_mode', 'append', '--output_shards', '1')
  assert os.path.exists(setup['out'] + '-00000-of-00001.parquet')
  assert not os.path.exists(manifest_folder(setup['out']))
  assert committed_files(setup['out']) == []


def test_changed_file_error_fails_the_run_and_commits_nothing(setup):
  write_file(setup['data'], 'a.jsonl', range(3), mtime=1_700_000_000)
  load(setup)
  write_file(setup['data'], 'a.jsonl', range(3, 7), mtime=1_700_000_100)  # changed
  write_file(setup['data'], 'b.jsonl', range(10, 12))  # new: not committed either
  with pytest.raises(Exception, match=r'a\.jsonl changed since it was loaded'):
    load(setup)  # --changed_files error is the default
  assert committed(setup) == ([0, 1, 2], ['a.jsonl:4'])
  assert manifest(setup) == [('a.jsonl', 3, 1, 'new')]


def test_changed_file_skip_keeps_what_was_written(setup):
  write_file(setup['data'], 'a.jsonl', range(3), mtime=1_700_000_000)
  load(setup, '--changed_files', 'skip')
  write_file(setup['data'], 'a.jsonl', range(3, 7), mtime=1_700_000_100)
  write_file(setup['data'], 'b.jsonl', range(10, 12))
  summary = load(setup, '--changed_files', 'skip')
  assert committed(setup) == ([0, 1, 2, 10, 11], ['a.jsonl:4', 'b.jsonl:3'])
  assert (summary['loads']['files_changed'], summary['loads']['files_skipped']) == (1, 1)
  assert manifest(setup) == [('a.jsonl', 3, 1, 'new'), ('b.jsonl', 2, 1, 'new')]


def test_changed_file_reload_supersedes_its_earlier_files_in_the_same_commit(setup):
  write_file(setup['data'], 'a.jsonl', range(3), bad=2, mtime=1_700_000_000)
  write_file(setup['data'], 'b.jsonl', range(10, 12))
  load(setup, '--changed_files', 'reload')
  assert committed(setup) == ([0, 1, 2, 10, 11], ['a.jsonl:4', 'a.jsonl:5', 'b.jsonl:3'])
  write_file(setup['data'], 'a.jsonl', range(3, 7), bad=1, mtime=1_700_000_100)
  load(setup, '--changed_files', 'reload')
  # a's 3 rows and 2 dead letters replaced by 4 rows and 1; b untouched
  assert committed(setup) == ([3, 4, 5, 6, 10, 11], ['a.jsonl:5', 'b.jsonl:3'])
  assert manifest(setup) == [('a.jsonl', 3, 2, 'new'), ('a.jsonl', 4, 1, 'reload'),
                             ('b.jsonl', 2, 1, 'new')]
  reload_manifest = read_manifests(manifest_folder(setup['out']))[-1]
  assert len(reload_manifest['superseded_outputs']) == 2  # a's rows file and dead letters
  assert all('a.jsonl' in p for p in reload_manifest['superseded_outputs'])
  load(setup, '--changed_files', 'reload')  # and a rerun of the reload adds nothing
  assert committed(setup) == ([3, 4, 5, 6, 10, 11], ['a.jsonl:5', 'b.jsonl:3'])


def test_replace_replaces_the_output_and_a_reader_never_sees_a_mix(setup):
  write_file(setup['data'], 'old.jsonl', range(300), bad=0)
  load(setup, '--load_mode', 'replace')
  load(setup, '--load_mode', 'replace')
  old = list(range(300))
  assert committed(setup) == (old, [])
  os.remove(os.path.join(setup['data'], 'old.jsonl'))
  write_file(setup['data'], 'new.jsonl', range(1000, 1200), bad=1)
  new = (list(range(1000, 1200)), ['new.jsonl:201'])
  seen, done = [], threading.Event()

  def poll():
    while not done.is_set():
      seen.append(committed(setup))

  thread = threading.Thread(target=poll, daemon=True)
  thread.start()
  try:
    load(setup, '--load_mode', 'replace')
  finally:
    done.set()
    thread.join(timeout=60)
  seen.append(committed(setup))
  print(f'reader polls during replace: {len(seen)} ({seen.count((old, []))} old, '
        f'{seen.count(new)} new)')
  assert len(seen) > 3
  odd = [(len(a), b[:3]) for a, b in seen if (a, b) not in ((old, []), new)]
  assert not odd, odd
  assert seen[0] == (old, []) and seen[-1] == new
  assert (old, []) not in seen[seen.index(new):]
  assert [a for _, _, _, a in manifest(setup)] == ['replace', 'replace', 'replace']


def test_a_plain_glob_also_sees_uncommitted_runs(setup):
  """Why readers go through the manifest: a failed run's files stay in the folder."""
  write_file(setup['data'], 'a.jsonl', range(3), mtime=1_700_000_000)
  load(setup)
  write_file(setup['data'], 'a.jsonl', range(3, 7), mtime=1_700_000_100)
  with pytest.raises(Exception, match='changed since it was loaded'):
    load(setup)
  globbed = glob.glob(setup['out'] + '/**/*.parquet', recursive=True)
  assert len(committed_files(setup['out'])) == 1 <= len(globbed)


@pytest.mark.parametrize('extra, option', [
    (('--output_shards', '2'), '--output_shards'),
    (('--dead_letter_sink', 'bigquery', '--dead_letter_table', 'my-project:ds.errors'), '--dead_letter_sink'),
    (('--load_manifest_table', 'my-project:ds.errors'), '--load_manifest_table'),
    (('--source_file_column', 'src'), '--source_file_column')])
def test_options_a_committing_lake_run_cannot_honour_are_refused(setup, capsys, extra,
                                                                option):
  with pytest.raises(SystemExit) as info:
    load(setup, *extra)
  assert info.value.code == 2
  assert option in capsys.readouterr().err


@pytest.mark.parametrize('point', ['selected', 'writing', 'written', 'renaming', 'committed'])
def test_killed_run_then_rerun_writes_every_record_exactly_once(setup, point):
  """The run's whole process tree gets SIGKILL at ``point`` (tests/e2e/killed_lake_run.py
  says where each is); the committed output is then nothing or everything, and a rerun with
  the same arguments leaves every record exactly once in the committed rows or dead
  letters, with one manifest entry per file."""
  write_file(setup['data'], 'a.jsonl', range(0, 5))
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2)
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'killed_lake_run.py')
  killed = subprocess.run([sys.executable, script, point] + setup['base'],
                          start_new_session=True, capture_output=True, timeout=300)
  assert killed.returncode == -9, killed.stderr.decode()[-3000:]
  nothing, everything = ([], []), (list(range(8)), A_DEAD + B_DEAD)
  left = committed(setup)
  written = glob.glob(setup['out'] + '/run=*/*.parquet')
  print(f'killed at {point}: committed {left}, {len(written)} rows file(s) in run folders')
  assert left == (everything if point == 'committed' else nothing)
  if point in ('written', 'renaming'):
    assert len(written) == 2  # the files are there, uncommitted: not part of the output
  partial = glob.glob(manifest_folder(setup['out']) + '/*.json.partial-*')
  assert len(partial) == (1 if point == 'renaming' else 0)  # a manifest not yet committed
  summary = load(setup)
  assert committed(setup) == everything
  assert manifest(setup) == [('a.jsonl', 5, 1, 'new'), ('b.jsonl', 3, 2, 'new')]
  assert summary['loads']['files_skipped'] == (2 if point == 'committed' else 0)
  load(setup)
  assert committed(setup) == everything
