"""files_to_bigquery --watch_interval against the BigQuery emulator: files present at the
start and files dropped while it runs are each loaded exactly once (a file still being
written only once it is complete), a restart loads only the new files, a watch SIGKILLed
mid-flight and restarted ends with every record exactly once, and a changed file is
handled as ``--changed_files`` says. Exact counts of rows, dead letters and manifest
entries; intervals of 1 s to keep the module short."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from loads_helpers import counts, make_setup, manifest, safe_counts, write_file

from beam_pipelines import files_to_bigquery

pytestmark = pytest.mark.emulator
OLD = 1_700_000_000  # a modification time long past: the file is complete


@pytest.fixture
def setup(tmp_path, bigquery_emulator, bq_dataset):
  return make_setup(tmp_path, bigquery_emulator, bq_dataset)


def watch(setup, seconds, *extra):
  """Runs a watch with a 1 s interval for ``seconds``; returns its summary."""
  argv = setup['base'] + ['--watch_interval', '1s', '--duration', str(seconds)] + list(extra)
  return files_to_bigquery.run(argv, print_summary=False)[1]


def in_background(fn, *args):
  """Starts ``fn(*args)`` in a thread; returns a function that joins it and returns (or
  raises) what it did."""
  out = {}

  def target():
    try:
      out['value'] = fn(*args)
    except BaseException as e:  # pylint: disable=broad-except
      out['error'] = e
  thread = threading.Thread(target=target, daemon=True)
  thread.start()

  def join():
    thread.join(timeout=120)
    assert not thread.is_alive(), 'the watch did not stop'
    if 'error' in out:
      raise out['error']
    return out['value']
  return join


def wait_for(client, dataset, files, timeout=30):
  """Seconds until the manifest lists ``files`` entries (AssertionError after timeout)."""
  started = time.monotonic()
  while time.monotonic() - started < timeout:
    try:
      if safe_counts(client, dataset)[3] >= files:
        return time.monotonic() - started
    except Exception:  # pylint: disable=broad-except  (the manifest table not there yet)
      pass
    time.sleep(0.25)
  raise AssertionError(f'the manifest did not reach {files} entries in {timeout} s')


def test_watch_loads_files_at_start_and_dropped_while_running_once(setup, bq_client):
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(0, 5), mtime=OLD)
  join = in_background(watch, setup, 9)
  wait_for(bq_client, ds, 1)
  assert counts(bq_client, ds) == (5, 5, 1, 1)
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2)
  latency = wait_for(bq_client, ds, 2)
  # c is still being written over ~2.5 s (a line every 0.3 s): never loaded half-written
  path = os.path.join(setup['data'], 'c.jsonl')
  with open(path, 'w') as f:
    for i in range(8, 16):
      f.write('{"id": %d, "name": "n%d", "day": "2026-01-01"}\n' % (i, i))
      f.flush()
      time.sleep(0.3)
  summary = join()
  print(f'b visible {latency:.1f} s after it was written; summary {summary["watch"]}, '
        f'{summary["loads"]}')
  assert counts(bq_client, ds) == (16, 16, 3, 3)
  assert manifest(bq_client, ds) == [('a.jsonl', 5, 1, 'new'), ('b.jsonl', 3, 2, 'new'),
                                     ('c.jsonl', 8, 0, 'new')]
  assert summary['loads']['files_committed'] == 3
  assert summary['loads']['files_changed'] == 0
  assert summary['loads']['files_settling'] >= 2  # b once, c while it was written
  assert summary['watch']['polls'] >= 4
  assert summary['watch']['commits'] == 3
  assert summary['records_read'] == 6 + 5 + 8  # a, b with their bad lines, c


def test_restart_loads_only_the_new_files(setup, bq_client):
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(0, 5), mtime=OLD)
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2, mtime=OLD)
  first = watch(setup, 2)
  assert counts(bq_client, ds) == (8, 8, 3, 2)
  assert first['loads']['files_committed'] == 2
  write_file(setup['data'], 'c.jsonl', range(8, 12), mtime=OLD)
  second = watch(setup, 2)
  assert counts(bq_client, ds) == (12, 12, 4, 3)
  assert second['loads']['files_committed'] == 1
  assert second['records_read'] == 5
  assert manifest(bq_client, ds)[-1] == ('c.jsonl', 4, 1, 'new')


@pytest.mark.parametrize('point', ['staged', 'commit_sent'])
def test_watch_killed_mid_flight_then_restarted_loads_every_record_once(setup, bq_client,
                                                                        point):
  """The watch starts on an empty folder; two files appear while it runs; its whole process
  tree gets SIGKILL in the poll that loads them (tests/e2e/killed_run.py); the restarted
  watch leaves every record exactly once."""
  ds = setup['dataset']
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'killed_run.py')
  argv = setup['base'] + ['--watch_interval', '1s', '--duration', '60']
  killed = subprocess.Popen([sys.executable, script, point] + argv, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  time.sleep(4)  # past the process's start: its polls find nothing
  assert killed.poll() is None, killed.stderr.read().decode()[-3000:]
  write_file(setup['data'], 'a.jsonl', range(0, 5), mtime=OLD)
  write_file(setup['data'], 'b.jsonl', range(5, 8), bad=2, mtime=OLD)
  _, stderr = killed.communicate(timeout=60)
  assert killed.returncode == -9, stderr.decode()[-3000:]
  left = safe_counts(bq_client, ds)
  print(f'watch killed at {point}: left {left}')
  nothing, everything = (0, 0, 0, 0), (8, 8, 3, 2)
  assert left in (nothing, everything)
  if point == 'staged':
    assert left == nothing
  summary = watch(setup, 2)
  assert counts(bq_client, ds) == everything
  assert summary['loads']['files_committed'] == (0 if left == everything else 2)


def test_changed_file_while_watching_stops_the_watch_with_error(setup, bq_client):
  """``--changed_files error`` (the default): the poll that sees the changed file fails
  before its commit (not even a new file of that poll is committed) and the watch stops
  with the error."""
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(3), mtime=OLD)
  watch(setup, 1)
  write_file(setup['data'], 'a.jsonl', range(3, 7), mtime=OLD + 100)
  write_file(setup['data'], 'b.jsonl', range(10, 12), mtime=OLD)
  with pytest.raises(Exception, match=r'a\.jsonl changed since it was loaded'):
    watch(setup, 30)
  assert counts(bq_client, ds) == (3, 3, 1, 1)


def test_changed_file_while_watching_reloads_with_reload(setup, bq_client):
  ds = setup['dataset']
  args = ('--changed_files', 'reload', '--source_file_column', 'source_file')
  write_file(setup['data'], 'a.jsonl', range(3), bad=2, mtime=OLD)
  join = in_background(watch, setup, 6, *args)
  wait_for(bq_client, ds, 1)
  write_file(setup['data'], 'a.jsonl', range(3, 7), bad=1, mtime=OLD + 100)
  wait_for(bq_client, ds, 2)
  summary = join()
  assert counts(bq_client, ds) == (4, 4, 1, 2)
  assert manifest(bq_client, ds) == [('a.jsonl', 3, 2, 'new'), ('a.jsonl', 4, 1, 'reload')]
  assert summary['loads']['files_changed'] == 1


@pytest.mark.parametrize('sig, stopped_by', [(signal.SIGTERM, 'SIGTERM'),
                                             (signal.SIGINT, 'Ctrl-C')])
def test_the_command_watches_until_stopped_then_prints_the_summary(setup, bq_client, sig,
                                                                   stopped_by):
  """``python -m beam_pipelines.files_to_bigquery --watch_interval 1s`` with no --duration:
  still running after its file is loaded; SIGTERM or Ctrl-C (SIGINT) ends it with exit code
  0 and the summary of its polls."""
  ds = setup['dataset']
  write_file(setup['data'], 'a.jsonl', range(0, 5), mtime=OLD)
  watcher = subprocess.Popen(
      [sys.executable, '-m', 'beam_pipelines.files_to_bigquery'] + setup['base']
      + ['--watch_interval', '1s'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  try:
    wait_for(bq_client, ds, 1)
    time.sleep(1.5)
    assert watcher.poll() is None, 'the watch ended by itself'
    watcher.send_signal(sig)
    stdout, stderr = watcher.communicate(timeout=60)
  finally:
    if watcher.poll() is None:
      watcher.kill()
  assert watcher.returncode == 0, stderr.decode()[-3000:]
  assert counts(bq_client, ds) == (5, 5, 1, 1)
  text = stdout.decode()
  assert re.search(r'watched: \d+ polls every 1 s, 1 of them committed files, stopped by '
                   + stopped_by, text), text
