"""files_to_bigquery's load modes end to end against the BigQuery emulator: a rerun adds
nothing, a new file among old ones is loaded once, a changed file is handled as
``--changed_files`` says, ``append`` duplicates (today's behaviour, on request), ``replace``
replaces (only the touched partitions of a partitioned table). Exact counts of rows, dead
letters and manifest entries after every run."""

import os

import pytest
from loads_helpers import counts, make_setup, manifest, safe_counts, write_file

from beam_pipelines import files_to_bigquery

pytestmark = pytest.mark.emulator


@pytest.fixture
def setup(tmp_path, bigquery_emulator, bq_dataset):
  return make_setup(tmp_path, bigquery_emulator, bq_dataset)


def load(setup, *extra):
  return files_to_bigquery.run(setup['base'] + list(extra), print_summary=False)[1]


@pytest.mark.parametrize('write_method', ['STREAMING_INSERTS', 'FILE_LOADS'])
def test_rerun_adds_nothing_and_a_new_file_is_loaded_once(setup, bq_client, write_method):
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(0, 5))
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2)
  first = load(setup, '--write_method', write_method)
  assert counts(bq_client, ds) == (8, 8, 3, 2)
  assert manifest(bq_client, ds) == [('a.jsonl', 5, 1, 'new'), ('b.jsonl', 3, 2, 'new')]
  assert first['loads']['files_committed'] == 2
  assert first['loads']['files_skipped'] == 0

  again = load(setup, '--write_method', write_method)
  assert counts(bq_client, ds) == (8, 8, 3, 2)
  assert again['loads']['files_skipped'] == 2
  assert again['loads']['files_committed'] == 0
  assert again['records_read'] == 0

  write_file(setup['data'], 'c.jsonl', range(8, 12))
  third = load(setup, '--write_method', write_method)
  assert counts(bq_client, ds) == (12, 12, 4, 3)
  assert (third['loads']['files_skipped'], third['loads']['files_committed']) == (2, 1)
  assert third['records_read'] == 5
  assert manifest(bq_client, ds)[-1] == ('c.jsonl', 4, 1, 'new')


def test_append_mode_loads_everything_again(setup, bq_client):
  """``--load_mode append`` is the old behaviour: no manifest, a rerun doubles the rows."""
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(4))
  load(setup, '--load_mode', 'append')
  load(setup, '--load_mode', 'append')
  rows = list(bq_client.query(f'SELECT COUNT(*), COUNT(DISTINCT id) FROM {ds}.events')
              .result())[0]
  assert tuple(rows) == (8, 4)
  assert 'events_loads' not in [t.table_id for t in bq_client.list_tables(ds)]


def test_changed_file_error_fails_the_run_and_commits_nothing(setup, bq_client):
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(3), mtime=1_700_000_000)
  load(setup)
  write_file(setup['data'], 'a.jsonl', range(3, 7), mtime=1_700_000_100)  # changed
  write_file(setup['data'], 'b.jsonl', range(10, 12))  # new: not committed either
  with pytest.raises(Exception, match=r'a\.jsonl changed since it was loaded'):
    load(setup)  # --changed_files error is the default
  assert counts(bq_client, ds) == (3, 3, 1, 1)


def test_changed_file_skip_keeps_what_was_loaded(setup, bq_client):
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(3), mtime=1_700_000_000)
  load(setup, '--changed_files', 'skip')
  write_file(setup['data'], 'a.jsonl', range(3, 7), mtime=1_700_000_100)
  write_file(setup['data'], 'b.jsonl', range(10, 12))
  summary = load(setup, '--changed_files', 'skip')
  assert counts(bq_client, ds) == (5, 5, 2, 2)
  assert summary['loads']['files_changed'] == 1
  assert summary['loads']['files_skipped'] == 1
  ids = [r[0] for r in bq_client.query(f'SELECT id FROM {ds}.events ORDER BY id').result()]
  assert ids == [0, 1, 2, 10, 11]


def test_changed_file_reload_replaces_its_rows_and_dead_letters(setup, bq_client):
  ds = setup['dataset']
  args = ('--changed_files', 'reload', '--source_file_column', 'source_file')
  a = write_file(setup['data'], 'a.jsonl', range(3), bad=2, mtime=1_700_000_000)
  write_file(setup['data'], 'b.jsonl', range(10, 12))
  load(setup, *args)
  assert counts(bq_client, ds) == (5, 5, 3, 2)
  write_file(setup['data'], 'a.jsonl', range(3, 7), bad=1, mtime=1_700_000_100)
  load(setup, *args)
  # a's 3 rows and 2 dead letters replaced by 4 rows and 1; b untouched; 3 manifest entries
  assert counts(bq_client, ds) == (6, 6, 2, 3)
  ids = [r[0] for r in bq_client.query(f'SELECT id FROM {ds}.events ORDER BY id').result()]
  assert ids == [3, 4, 5, 6, 10, 11]
  files = {r[0] for r in bq_client.query(
      f'SELECT DISTINCT source_file FROM {ds}.events').result()}
  assert files == {a, os.path.join(setup['data'], 'b.jsonl')}
  assert manifest(bq_client, ds) == [('a.jsonl', 3, 2, 'new'), ('a.jsonl', 4, 1, 'reload'),
                                     ('b.jsonl', 2, 1, 'new')]
  load(setup, *args)  # and a rerun of the reload adds nothing
  assert counts(bq_client, ds) == (6, 6, 2, 3)


def test_replace_replaces_the_table(setup, bq_client):
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(4))
  load(setup, '--load_mode', 'replace')
  load(setup, '--load_mode', 'replace')
  assert counts(bq_client, ds)[:3] == (4, 4, 1)
  os.remove(os.path.join(setup['data'], 'a.jsonl'))
  write_file(setup['data'], 'b.jsonl', range(10, 12), bad=0)
  load(setup, '--load_mode', 'replace')
  ids = [r[0] for r in bq_client.query(f'SELECT id FROM {ds}.events ORDER BY id').result()]
  assert ids == [10, 11]


def test_replace_on_a_partitioned_table_replaces_only_the_touched_partitions(setup,
                                                                            bq_client):
  ds = setup['dataset']
  part = ('--load_mode', 'replace', '--partition_field', 'day')
  write_file(setup['data'], 'jan1.jsonl', range(3), bad=0, day='2026-01-01')
  write_file(setup['data'], 'jan2.jsonl', range(10, 13), bad=0, day='2026-01-02')
  load(setup, *part)
  assert bq_client.get_table(f'{ds}.events').time_partitioning.field == 'day'
  # the daily reload pattern: only Jan 2 is loaded again, with other rows
  for name in ('jan1.jsonl', 'jan2.jsonl'):
    os.remove(os.path.join(setup['data'], name))
  write_file(setup['data'], 'jan2.jsonl', range(20, 22), bad=0, day='2026-01-02')
  load(setup, *part)
  got = [tuple(r) for r in bq_client.query(
      f'SELECT CAST(day AS STRING), id FROM {ds}.events ORDER BY day, id').result()]
  assert got == [('2026-01-01', 0), ('2026-01-01', 1), ('2026-01-01', 2),
                 ('2026-01-02', 20), ('2026-01-02', 21)]


@pytest.mark.parametrize('point', ['selected', 'staged', 'tables_loaded', 'commit_sent',
                                   'committed'])
def test_killed_run_then_rerun_loads_every_record_exactly_once(setup, bq_client, point):
  """The run's whole process tree gets SIGKILL at ``point`` (tests/e2e/killed_run.py says
  where each is); what it left is nothing or everything, and a rerun with the same
  arguments leaves every record exactly once in the rows or the dead-letter table."""
  import subprocess
  import sys
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(0, 5))
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2)
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'killed_run.py')
  killed = subprocess.run([sys.executable, script, point] + setup['base'],
                          start_new_session=True, capture_output=True, timeout=300)
  assert killed.returncode == -9, killed.stderr.decode()[-3000:]
  left = safe_counts(bq_client, ds)
  print(f'killed at {point}: left (rows, ids, dead letters, manifest) = {left}')
  nothing, everything = (0, 0, 0, 0), (8, 8, 3, 2)
  assert left == {'selected': nothing, 'staged': nothing, 'tables_loaded': nothing,
                  'commit_sent': left,
                  'committed': everything}[point]
  assert left in (nothing, everything)  # a commit is all or nothing
  summary = load(setup)
  assert counts(bq_client, ds) == everything
  assert summary['loads']['files_skipped'] == (2 if left == everything else 0)
  load(setup)
  assert counts(bq_client, ds) == everything


def test_replace_never_shows_a_partial_table_to_a_concurrent_reader(setup, bq_client,
                                                                    bigquery_emulator):
  """A reader polls the table for the whole of a replace run: it sees the old content or
  the new one, never an empty, half-deleted or half-written table. (The emulator runs one
  job at a time, so on it this shows the replace is one job, one transaction: a DELETE and
  an INSERT sent as two jobs could be seen between them.)"""
  import threading
  ds = setup['dataset']
  write_file(setup['data'], 'old.jsonl', range(300), bad=0)
  load(setup, '--load_mode', 'replace')
  os.remove(os.path.join(setup['data'], 'old.jsonl'))
  write_file(setup['data'], 'new.jsonl', range(1000, 1200), bad=0)
  reader = bigquery_emulator.client()
  seen, done = [], threading.Event()

  def poll():
    while not done.is_set():
      seen.append(tuple(list(reader.query(
          f'SELECT COUNT(*), MIN(id), MAX(id) FROM {ds}.events').result())[0]))

  thread = threading.Thread(target=poll, daemon=True)
  thread.start()
  try:
    load(setup, '--load_mode', 'replace')
  finally:
    done.set()
    thread.join(timeout=60)
  seen.append(tuple(list(reader.query(
      f'SELECT COUNT(*), MIN(id), MAX(id) FROM {ds}.events').result())[0]))
  old, new = (300, 0, 299), (200, 1000, 1199)
  print(f'reader polls during replace: {len(seen)} ({seen.count(old)} old, '
        f'{seen.count(new)} new)')
  assert len(seen) > 3
  assert set(seen) <= {old, new}, sorted(set(seen) - {old, new})
  assert seen[0] == old and seen[-1] == new
  # once new, never old again
  assert old not in seen[seen.index(new):]


def test_a_file_another_run_committed_meanwhile_is_left_out(setup, bq_client, monkeypatch):
  """Two runs racing on the same files: this run chose a.jsonl and b.jsonl, and just before
  its commit another run's commit of a.jsonl lands (simulated: its manifest row is inserted
  when this run's commit starts). The commit takes b only; a's rows are not added twice."""
  from beam_pipelines.transforms.write import staged_script
  ds = setup['dataset']
  a = write_file(setup['data'], 'a.jsonl', range(0, 5))
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2)
  run_stages = staged_script.StagedScript.run_stages

  def other_run_commits_a_first(self, client, stages, script, *args, **kwargs):
    client.query(
        f"INSERT INTO {ds}.events_loads (path, identity, `rows`, dead_letters, run_id, "
        f"loaded_at, action) VALUES ('{a}', 'other', 0, 0, 'other_run', "
        "CURRENT_TIMESTAMP(), 'new')").result()
    return run_stages(self, client, stages, script, *args, **kwargs)
  monkeypatch.setattr(staged_script.StagedScript, 'run_stages', other_run_commits_a_first)
  summary = load(setup)
  assert counts(bq_client, ds) == (3, 3, 2, 2)  # b's rows and dead letters; a: the other's
  assert (summary['loads']['files_committed'], summary['loads']['files_conflicted']) == (1, 1)
  assert manifest(bq_client, ds) == [('a.jsonl', 0, 0, 'new'), ('b.jsonl', 3, 2, 'new')]


def test_two_worker_processes_stage_and_commit_once(setup, bq_client):
  """A large local input runs on one worker process per core (and split reads): staging
  files come from both workers, the commit takes them all, once; a rerun adds nothing."""
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(0, 600), bad=3)
  write_file(setup['data'], 'b.jsonl', range(600, 1000), bad=2)
  workers = ('--direct_num_workers', '2', '--direct_running_mode', 'multi_processing',
             '--input_split_bytes', '8000')
  load(setup, *workers)
  assert counts(bq_client, ds) == (1000, 1000, 5, 2)
  assert manifest(bq_client, ds) == [('a.jsonl', 600, 3, 'new'), ('b.jsonl', 400, 2, 'new')]
  load(setup, *workers)
  assert counts(bq_client, ds) == (1000, 1000, 5, 2)
