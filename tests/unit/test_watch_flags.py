"""files_to_bigquery --watch_interval / --duration: their values, and what cannot be watched,
are one line naming the flag and exit code 2 before anything runs (no emulator needed: the
checks come before the pipeline is built)."""

import json

import pytest

from beam_pipelines import files_to_bigquery
from beam_pipelines.runtime.run_flags import take_flag
from beam_pipelines.runtime.watching import WatchPlan, watch_plan


@pytest.fixture
def base(tmp_path):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps([{'name': 'id', 'type': 'INT64'}]))
  return ['--input', str(tmp_path / 'in' / '*.jsonl'), '--schema', str(schema),
          '--output_table', 'test-project:ds.events', '--temp_location', str(tmp_path / 'tmp')]


@pytest.mark.parametrize('argv, plan', [
    (['--watch_interval', '30s'], WatchPlan(30.0)),
    (['--watch_interval=5m', '--duration', '90'], WatchPlan(300.0, 90.0)),
    (['--watch_interval', '2'], WatchPlan(2.0)),
    (['--watch_interval', '250ms'], WatchPlan(0.25)),
    ([], None),
])
def test_watch_plan_reads_intervals_and_leaves_the_rest(argv, plan):
  got, rest = watch_plan(['--input', 'x'] + argv)
  assert got == plan
  assert rest == ['--input', 'x']


def test_take_flag_takes_both_spellings_and_the_last_wins():
  assert take_flag(['--a', '1', '--duration=3', '--b', '--duration', '4'], 'duration') == (
      '4', ['--a', '1', '--b'])


@pytest.mark.parametrize('extra, message', [
    (['--watch_interval', '0'], '--watch_interval: expected a duration > 0'),
    (['--watch_interval', 'soon'], '--watch_interval: expected a duration > 0'),
    (['--watch_interval', '-5s'], '--watch_interval: expected a duration > 0'),
    (['--watch_interval'], '--watch_interval: expected a duration > 0'),
    (['--watch_interval', '1s', '--duration', 'x'], '--duration: expected a number'),
    (['--duration', '10'], '--duration needs --watch_interval'),
    (['--watch_interval', '1s', '--load_mode', 'append'],
     '--watch_interval needs --load_mode incremental'),
    (['--watch_interval', '1s', '--load_mode', 'replace'],
     '--load_mode replace would replace the table'),
    (['--watch_interval', '1s', '--runner', 'DataflowRunner', '--project', 'p',
      '--region', 'r'], '--watch_interval polls from this process on a local runner'),
])
def test_bad_watch_flags_exit_2_naming_the_flag(base, capsys, extra, message):
  with pytest.raises(SystemExit) as exited:
    files_to_bigquery.run(base + extra, print_summary=False)
  assert exited.value.code == 2
  err = capsys.readouterr().err
  assert err.startswith('files_to_bigquery: error: ')
  assert message in err


def test_lake_output_cannot_be_watched(tmp_path, capsys):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps([{'name': 'id', 'type': 'INT64'}]))
  with pytest.raises(SystemExit):
    files_to_bigquery.run(['--input', str(tmp_path / '*.jsonl'), '--schema', str(schema),
                           '--output_path', str(tmp_path / 'lake'), '--watch_interval', '1s'],
                          print_summary=False)
  assert 'lake files (--output_path) cannot be watched' in capsys.readouterr().err


def test_watching_needs_no_input_at_the_start(base, monkeypatch):
  """An empty folder is an empty poll, not 'matches no file' (the batch check)."""
  from beam_pipelines.runtime import watching
  seen = {}

  def fake_watch(run_poll, cfg, plan):
    seen['cfg'], seen['plan'] = cfg, plan
    return watching.Watched({'watch': {}}, None, None)
  monkeypatch.setattr(files_to_bigquery, 'watch', fake_watch)
  monkeypatch.setattr(files_to_bigquery, 'close_run', lambda *a, **k: None)
  files_to_bigquery.run(base + ['--watch_interval', '2s'], print_summary=False)
  assert seen['plan'] == WatchPlan(2.0)
  assert seen['cfg'].source.allow_empty_match
  assert seen['cfg'].loads.settle_seconds == 2.0
  first, second = watching.poll_config(seen['cfg']), watching.poll_config(seen['cfg'])
  assert first.loads.run_id != second.loads.run_id  # each poll commits under its own id
  assert first.loads.staging_location.endswith('/loads/' + first.loads.run_id)
