"""The test harness itself: emulators on loopback, the network guard, endpoint redirection."""

import socket

import network_guard
import pytest

from beam_pipelines.tools import emulators as local_emulators
from beam_pipelines.transforms import beam_patches

pytestmark = pytest.mark.emulator


def test_network_guard_blocks_non_loopback_connections():
  with pytest.raises(network_guard.NonLoopbackConnectionError, match='non-loopback'):
    socket.create_connection(('192.0.2.1', 443), timeout=1)
  with pytest.raises(network_guard.NonLoopbackConnectionError):
    socket.getaddrinfo('bigquery.googleapis.com', 443)


def test_network_guard_allows_loopback():
  with socket.socket() as server:
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    with socket.create_connection(server.getsockname(), timeout=1):
      pass


def test_google_clients_without_emulator_would_be_blocked(monkeypatch):
  """A client aimed at the real BigQuery endpoint fails loudly instead of leaving the box."""
  from google.auth.credentials import AnonymousCredentials
  from google.cloud import bigquery
  monkeypatch.delenv('BIGQUERY_EMULATOR_HOST', raising=False)
  client = bigquery.Client(project='test-project', credentials=AnonymousCredentials())
  with pytest.raises(Exception) as info:
    client.get_dataset('anything', retry=None, timeout=2)
  assert 'non-loopback' in repr(info.value) or 'NonLoopback' in repr(info.value)


def test_both_beam_bigquery_clients_go_to_the_emulator(bigquery_emulator, bq_dataset):
  """With the Beam patch bigquery_emulator on (the pipelines switch it on)."""
  from apache_beam.io.gcp import bigquery_tools
  beam_patches.enable('bigquery_emulator')
  wrapper = bigquery_tools.BigQueryWrapper()
  # apitools client (tables/datasets/jobs)
  assert wrapper.client.url.startswith(bigquery_emulator.endpoint)
  dataset = wrapper.get_or_create_dataset(bigquery_emulator.project, bq_dataset)
  assert dataset.datasetReference.datasetId == bq_dataset
  # google-cloud-bigquery client (insertAll)
  assert wrapper.gcp_bq_client._connection.API_BASE_URL == bigquery_emulator.endpoint  # pylint: disable=protected-access
  client = bigquery_emulator.client()
  client.create_table(f'{bq_dataset}.t', exists_ok=True)
  from google.cloud import bigquery
  table = bigquery.Table(f'{bigquery_emulator.project}.{bq_dataset}.t2',
                         schema=[bigquery.SchemaField('x', 'INT64')])
  client.create_table(table)
  ok, errors = wrapper.insert_rows(bigquery_emulator.project, bq_dataset, 't2', [{'x': 5}])
  assert ok and not errors
  assert [r.x for r in client.query(f'SELECT x FROM {bq_dataset}.t2').result()] == [5]


def test_pubsub_emulator_round_trip(pubsub_topic):
  from google.cloud import pubsub_v1
  topic, subscription = pubsub_topic
  publisher = pubsub_v1.PublisherClient()
  publisher.publish(topic, b'hello', origin='test').result(timeout=10)
  subscriber = pubsub_v1.SubscriberClient()
  response = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
  assert [m.message.data for m in response.received_messages] == [b'hello']
  assert response.received_messages[0].message.attributes['origin'] == 'test'


def test_missing_pubsub_jar_fails_with_a_clear_message(monkeypatch):
  monkeypatch.setattr(local_emulators, 'PUBSUB_JAR_GLOB', '/nonexistent/*.jar')
  with pytest.raises(local_emulators.EmulatorError, match='Pub/Sub emulator jar is missing'):
    local_emulators.PubSubEmulator().start()


def test_emulator_is_killed_on_stop(tmp_path):
  emulator = local_emulators.BigQueryEmulator(log_dir=str(tmp_path)).start()
  process = emulator.process
  emulator.stop()
  assert process.poll() is not None
  with pytest.raises(OSError):
    socket.create_connection(('127.0.0.1', emulator.port), timeout=1)


def test_emulator_dies_with_its_parent():
  """A killed test run or demo must not leave emulators behind (PR_SET_PDEATHSIG)."""
  import os
  import signal
  import subprocess
  import sys
  import time
  code = ('from beam_pipelines.local_emulators import BigQueryEmulator\nimport time\n'
          'e = BigQueryEmulator().start()\nprint(e.process.pid, flush=True)\ntime.sleep(120)')
  parent = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
  child = int(parent.stdout.readline())
  os.kill(parent.pid, signal.SIGKILL)
  parent.wait()
  deadline = time.monotonic() + 20
  while time.monotonic() < deadline and os.path.exists(f'/proc/{child}'):
    time.sleep(0.2)
  assert not os.path.exists(f'/proc/{child}'), 'the emulator outlived its parent'
