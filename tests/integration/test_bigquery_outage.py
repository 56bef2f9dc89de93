"""Fault injection: the BigQuery emulator is down when the pipeline reaches the sink.

- It comes back (same port, same persistent data) a few seconds later, well inside the retry
  budget: Beam's BigQuery clients retry with backoff and the run must complete with every row
  written exactly once and no dead letter — never a silent loss.
- It never comes back: once the sink's calls have failed for longer than
  ``--bigquery_retry_budget_seconds``, the run must fail loudly, naming the table and the
  budget, within a bounded time (without the budget, STREAMING_INSERTS retried for > 600 s).

Measured per write method (see README "Guarantees")."""

import json
import os
import threading
import time

import pytest

from beam_pipelines.tools.emulators import BigQueryEmulator

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
OUTAGE_SECONDS = 8
RIDE_OUT_BUDGET_SECONDS = 20  # longer than the outage: it must not fire
SHORT_BUDGET_SECONDS = 5


class _SamePortEmulator(BigQueryEmulator):
  """Restarts on the ports it first got (a persistent --data-dir keeps the datasets)."""

  def _command(self):
    ports = (self.port, self.grpc_port)
    command = super()._command()
    if ports[0]:
      self.port, self.grpc_port = ports
      command[command.index('--rest-port') + 1] = str(ports[0])
      command[command.index('--grpc-port') + 1] = str(ports[1])
    return command


def _start(tmp_path, monkeypatch, method, budget):
  """A running emulator with dataset ``ds`` and the argv of a 501-record run against it."""
  emulator = _SamePortEmulator(data_dir=str(tmp_path / 'bq'), log_dir=str(tmp_path))
  emulator.start()
  for key, value in emulator.environment().items():
    monkeypatch.setenv(key, value)
  emulator.client().create_dataset('ds')
  data = tmp_path / 'in.jsonl'
  data.write_text(''.join(json.dumps({'id': i}) + '\n' for i in range(500)) + '{"id": "x"}\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps([{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}]))
  argv = ['--input', str(data), '--schema', str(schema), '--output_table', 'ds.events',
          '--write_method', method, '--bigquery_retry_budget_seconds', str(budget)]
  if method == 'FILE_LOADS':
    os.makedirs(tmp_path / 'temp')
    argv += ['--temp_location', str(tmp_path / 'temp')]
  return emulator, argv


def _run_in_thread(argv):
  from beam_pipelines import files_to_bigquery
  outcome = {}

  def run():
    started = time.monotonic()
    try:
      outcome['summary'] = files_to_bigquery.run(argv, print_summary=False)[1]
    except BaseException as e:  # pylint: disable=broad-except
      outcome['error'] = e
    outcome['seconds'] = time.monotonic() - started

  thread = threading.Thread(target=run, daemon=True)
  thread.start()
  return thread, outcome


@pytest.mark.parametrize('method', ['STREAMING_INSERTS', 'FILE_LOADS'])
def test_sink_outage_is_retried_and_nothing_is_lost(tmp_path, monkeypatch, method):
  emulator, argv = _start(tmp_path, monkeypatch, method, RIDE_OUT_BUDGET_SECONDS)
  try:
    emulator.stop()  # the outage starts before the sink's first call
    thread, outcome = _run_in_thread(argv)
    time.sleep(OUTAGE_SECONDS)
    assert thread.is_alive(), f'the run ended during the outage: {outcome}'
    emulator.start()
    thread.join(timeout=240)
    assert not thread.is_alive(), 'the run did not finish within 240 s after the outage'
    assert 'error' not in outcome, repr(outcome.get('error'))
    print(f'{method}: outage {OUTAGE_SECONDS}s, budget {RIDE_OUT_BUDGET_SECONDS}s, '
          f'run took {outcome["seconds"]:.1f}s')
    client = emulator.client()
    ids = [r['id'] for r in client.query('SELECT id FROM ds.events').result()]
    assert sorted(ids) == list(range(500))  # every row, exactly once
    dead = list(client.query('SELECT errorType FROM ds.events_error_records').result())
    assert [d['errorType'] for d in dead] == ['type_mismatch:id']
    summary = outcome['summary']
    assert summary['records_read'] == 501 == summary['rows_written'] + summary['dead_letters']
  finally:
    emulator.stop()


@pytest.mark.parametrize('method, known_tables', [
    ('STREAMING_INSERTS', False), ('STREAMING_INSERTS', True), ('FILE_LOADS', False)],
    ids=['STREAMING_INSERTS-table_lookup', 'STREAMING_INSERTS-insert_all', 'FILE_LOADS'])
def test_sink_outage_past_the_budget_fails_loudly(tmp_path, monkeypatch, method, known_tables):
  """STREAMING_INSERTS first looks the table up (apitools, Beam's get_or_create_table loops)
  unless Beam's process-wide cache already knows it; then it goes straight to insertAll
  (google-cloud-bigquery, its 600 s DEFAULT_RETRY). Both paths are cut by the budget."""
  from apache_beam.io.gcp import bigquery

  from beam_pipelines.transforms.write.retry_budget import RetryBudgetExceeded
  known = {'test-project:ds.events', 'test-project:ds.events_error_records'}
  monkeypatch.setattr(bigquery, '_KNOWN_TABLES', known if known_tables else set())
  emulator, argv = _start(tmp_path, monkeypatch, method, SHORT_BUDGET_SECONDS)
  emulator.stop()  # and never started again
  thread, outcome = _run_in_thread(argv)
  thread.join(timeout=90)
  assert not thread.is_alive(), 'still retrying 90 s into an outage with a 5 s budget'
  error = outcome.get('error')
  assert error is not None, f'the run did not fail: {outcome}'
  print(f'{method} (known tables: {known_tables}): budget {SHORT_BUDGET_SECONDS}s, failed after {outcome["seconds"]:.1f}s: '
        f'{str(error)[:300]}')
  message = str(error)
  # The runner re-raises the DoFn's error as its own type, with the message kept.
  assert isinstance(error, RetryBudgetExceeded) or RetryBudgetExceeded.__name__ in message
  assert 'ds.events' in message and f'retry budget of {SHORT_BUDGET_SECONDS} s' in message
  assert 'Connection refused' in message  # the last underlying error
  assert outcome['seconds'] < 60


def test_outage_at_the_commit_past_the_budget_then_rerun_loads_once(tmp_path, monkeypatch):
  """--load_mode incremental (the default): BigQuery goes away just as the run's commit
  starts and stays away past the budget. The run fails, nothing of it is in any table; once
  BigQuery is back, the same command loads every record exactly once."""
  from beam_pipelines import files_to_bigquery
  from beam_pipelines.transforms.write import staged_script
  emulator, argv = _start(tmp_path, monkeypatch, 'STREAMING_INSERTS', SHORT_BUDGET_SECONDS)
  argv += ['--temp_location', str(tmp_path / 'temp')]
  run_stages = staged_script.StagedScript.run_stages

  def outage_first(self, client, stages, script, *args, **kwargs):
    emulator.stop()  # the outage starts as the commit does
    return run_stages(self, client, stages, script, *args, **kwargs)
  try:
    monkeypatch.setattr(staged_script.StagedScript, 'run_stages', outage_first)
    with pytest.raises(Exception, match='retry budget of 5 s'):
      files_to_bigquery.run(argv, print_summary=False)
    monkeypatch.setattr(staged_script.StagedScript, 'run_stages', run_stages)
    emulator.start()
    client = emulator.client()
    count = lambda sql: list(client.query(sql).result())[0][0]  # noqa: E731
    assert count('SELECT COUNT(*) FROM ds.events') == 0
    assert count('SELECT COUNT(*) FROM ds.events_error_records') == 0
    assert count('SELECT COUNT(*) FROM ds.events_loads') == 0
    files_to_bigquery.run(argv, print_summary=False)
    ids = [r['id'] for r in client.query('SELECT id FROM ds.events').result()]
    assert sorted(ids) == list(range(500))
    assert count('SELECT COUNT(*) FROM ds.events_error_records') == 1
    assert count('SELECT COUNT(*) FROM ds.events_loads') == 1
  finally:
    emulator.stop()
