"""Fault injection: the BigQuery emulator is down when the pipeline reaches the sink and comes
back (same port, same persistent data) a few seconds later. Beam's BigQuery clients retry with
backoff; the run must complete with every row written exactly once and no dead letter — never
a silent loss. Measured per write method (see README "Guarantees")."""

import json
import os
import threading
import time

import pytest

from beam_pipelines.local_emulators import BigQueryEmulator

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
OUTAGE_SECONDS = 8


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


@pytest.mark.parametrize('method', ['STREAMING_INSERTS', 'FILE_LOADS'])
def test_sink_outage_is_retried_and_nothing_is_lost(tmp_path, monkeypatch, method):
  from beam_pipelines import files_to_bigquery
  emulator = _SamePortEmulator(data_dir=str(tmp_path / 'bq'), log_dir=str(tmp_path))
  emulator.start()
  try:
    for key, value in emulator.environment().items():
      monkeypatch.setenv(key, value)
    emulator.client().create_dataset('ds')
    data = tmp_path / 'in.jsonl'
    data.write_text(''.join(json.dumps({'id': i}) + '\n' for i in range(500)) + '{"id": "x"}\n')
    schema = tmp_path / 'schema.json'
    schema.write_text(json.dumps([{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}]))
    argv = ['--input', str(data), '--schema', str(schema), '--output_table', 'ds.events',
            '--write_method', method]
    if method == 'FILE_LOADS':
      os.makedirs(tmp_path / 'temp')
      argv += ['--temp_location', str(tmp_path / 'temp')]
    emulator.stop()  # the outage starts before the sink's first call
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
    time.sleep(OUTAGE_SECONDS)
    assert thread.is_alive(), f'the run ended during the outage: {outcome}'
    emulator.start()
    thread.join(timeout=240)
    assert not thread.is_alive(), 'the run did not finish within 240 s after the outage'
    assert 'error' not in outcome, repr(outcome.get('error'))
    print(f'{method}: outage {OUTAGE_SECONDS}s, run took {outcome["seconds"]:.1f}s')
    client = emulator.client()
    ids = [r['id'] for r in client.query('SELECT id FROM ds.events').result()]
    assert sorted(ids) == list(range(500))  # every row, exactly once
    dead = list(client.query('SELECT errorType FROM ds.events_error_records').result())
    assert [d['errorType'] for d in dead] == ['type_mismatch:id']
    summary = outcome['summary']
    assert summary['records_read'] == 501 == summary['rows_written'] + summary['dead_letters']
  finally:
    emulator.stop()
