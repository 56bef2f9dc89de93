"""Fault injection for the streaming pipeline (BundleBasedDirectRunner) against Pub/Sub going
away mid-stream; the two outage tests end with an exact count in BigQuery (each id once).

``test_redelivery_restart_and_dedup_give_an_exact_count``: messages pulled but never
acknowledged by a crashed consumer are redelivered; Pub/Sub becoming unreachable (a TCP proxy,
tests/integration/tcp_outage.py, cuts every connection and refuses new ones for a few seconds,
then comes back on the same address) does not stop the pipeline; duplicates (same id
attribute) are removed. The emulator keeps its state: this is what a restart of the real,
durable service looks like to a client.

``test_a_really_restarted_emulator_loses_its_state_and_the_run_goes_on``: the emulator
process itself is stopped and started again on the same port. The emulator keeps everything
in memory, so it comes back with no topic, no subscription and none of the unpulled messages
(the real service is durable; the emulator is not). The pipeline's pulls get 404 NotFound
until the harness re-creates them; the read treats that as an empty pull within its grace
period (``--pubsub_pull_grace``, transforms/pubsub_direct_pull.py) instead of failing. The
harness then does what a publisher that retries its unconfirmed publishes does, and
re-publishes every message with the same id attribute.

``test_a_subscription_gone_past_the_grace_period_fails_the_run_loudly``: the other side of
the grace period: a subscription deleted for good fails the run, naming it.
"""

import json
import os
import sys
import time

import pytest
from apache_beam.runners.runner import PipelineState

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'e2e'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from streaming_helpers import publish, table_rows, wait_for  # noqa: E402
from tcp_outage import TcpOutageProxy  # noqa: E402

from beam_pipelines.tools.emulators import PubSubEmulator  # noqa: E402

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def _topic_and_subscription(project):
  from google.cloud import pubsub_v1
  publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
  topic = publisher.topic_path(project, 'restart-topic')
  subscription = subscriber.subscription_path(project, 'restart-sub')
  publisher.create_topic(name=topic)
  subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=10)
  return topic, subscription


def _schema(tmp_path):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps([{'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'},
                                {'name': 'n', 'type': 'INTEGER'}]))
  return str(schema)


def _messages(ids):
  return [(json.dumps({'event_id': f'e{i}', 'n': i}).encode(), {'event_id': f'e{i}'})
          for i in ids]


def test_redelivery_restart_and_dedup_give_an_exact_count(tmp_path, monkeypatch,
                                                          bigquery_emulator, bq_client,
                                                          bq_dataset):
  from google.cloud import pubsub_v1

  from beam_pipelines import pubsub_to_bigquery
  emulator = PubSubEmulator(log_dir=str(tmp_path))
  emulator.start()
  proxy = TcpOutageProxy(emulator.port).up()
  running = None
  try:
    monkeypatch.setenv('PUBSUB_EMULATOR_HOST', f'127.0.0.1:{proxy.port}')
    monkeypatch.setenv('GOOGLE_CLOUD_PROJECT', emulator.project)
    topic, subscription = _topic_and_subscription(emulator.project)
    publish(topic, _messages(range(0, 60)))
    # A consumer that crashes after pulling: 20 messages pulled and never acknowledged.
    stolen = pubsub_v1.SubscriberClient().pull(subscription=subscription, max_messages=20,
                                               timeout=10).received_messages
    assert stolen
    running = pubsub_to_bigquery.start([
        '--input_subscription', subscription, '--schema', _schema(tmp_path),
        '--output_table', f'{bigquery_emulator.project}:{bq_dataset}.events',
        '--id_attribute', 'event_id', '--pubsub_pull_timeout', '0.5s'])

    def ids():
      return {r['event_id'] for r in table_rows(bq_client, f'{bq_dataset}.events', 'event_id')}
    # All 60, the stolen ones after their 10 s ack deadline expired (redelivery).
    seen = wait_for(ids, lambda s: len(s) >= 60, timeout=45)
    assert seen == {f'e{i}' for i in range(60)}, sorted(seen)

    proxy.down()  # Pub/Sub unreachable: connections cut, new ones refused
    time.sleep(3)
    proxy.up()  # back on the same address
    publish(topic, _messages(range(50, 100)))  # e50..e59 again: duplicates by id
    seen = wait_for(ids, lambda s: len(s) >= 100, timeout=45)
    counters = wait_for(running.counters,
                        lambda c: c.get(('dedup', 'duplicates'), 0) >= 10, timeout=15)
    time.sleep(2)  # a late duplicate insert would show up now
    rows = table_rows(bq_client, f'{bq_dataset}.events', 'event_id')
  finally:
    if running is not None:
      running.cancel()
    proxy.down()
    emulator.stop()
  assert sorted(r['event_id'] for r in rows) == sorted(f'e{i}' for i in range(100))
  assert counters[('dedup', 'duplicates')] == 10
  summary = running.summary()
  assert summary['messages_read'] == 110
  assert summary['messages_read'] == (summary['rows_written'] + summary['dead_letters']
                                      + summary['duplicates_removed'])


def test_a_really_restarted_emulator_loses_its_state_and_the_run_goes_on(
    tmp_path, monkeypatch, bigquery_emulator, bq_client, bq_dataset):
  from beam_pipelines import pubsub_to_bigquery
  emulator = PubSubEmulator(log_dir=str(tmp_path)).start()
  running = None
  try:
    monkeypatch.setenv('PUBSUB_EMULATOR_HOST', emulator.host)
    monkeypatch.setenv('GOOGLE_CLOUD_PROJECT', emulator.project)
    topic, subscription = _topic_and_subscription(emulator.project)
    first = _messages(range(0, 200))
    publish(topic, first)
    running = pubsub_to_bigquery.start([
        '--input_subscription', subscription, '--schema', _schema(tmp_path),
        '--output_table', f'{bigquery_emulator.project}:{bq_dataset}.events',
        '--id_attribute', 'event_id', '--pubsub_pull_timeout', '0.5s'])

    def ids():
      return [r['event_id'] for r in table_rows(bq_client, f'{bq_dataset}.events', 'event_id')]
    # Mid-stream: some rows are in BigQuery (the rest is in the pipeline or still in Pub/Sub).
    confirmed = set(wait_for(ids, lambda s: len(s) >= 20, timeout=45))
    assert len(confirmed) >= 20

    emulator.stop()  # the process is gone, and with it every topic, subscription, message
    emulator.start()  # same port, empty
    # The pipeline's pulls now get 404 NotFound: it counts them and keeps running.
    counters = wait_for(running.counters,
                        lambda c: c.get(('pubsub', 'pull_errors'), 0) >= 1, timeout=30)
    assert counters.get(('pubsub', 'pull_errors'), 0) >= 1, counters
    assert running.result.state == PipelineState.RUNNING

    # The publisher re-creates what the emulator forgot and re-publishes everything it
    # published before (same id attribute): the ids already written come back as duplicates.
    _topic_and_subscription(emulator.project)
    publish(topic, first)
    publish(topic, _messages(range(200, 300)))  # and publishing goes on
    wait_for(ids, lambda s: len(set(s)) >= 300, timeout=60)

    def settled(c):  # every message read is accounted for: a row or a duplicate
      return (c.get(('read', 'records'), 0) >= 300
              and c.get(('sink', 'rows_attempted'), 0) >= c.get(('read', 'records'), 0))
    counters = wait_for(running.counters, settled, timeout=15)
    time.sleep(2)  # a late duplicate insert would show up now
    rows = ids()
    state = running.result.state
  finally:
    if running is not None:
      running.cancel()
    emulator.stop()
  assert state == PipelineState.RUNNING  # it never failed across the restart
  assert rows == sorted(f'e{i}' for i in range(300)), 'each id exactly once'
  duplicates = counters.get(('dedup', 'duplicates'), 0)
  print(f'rows in BigQuery at the stop: {len(confirmed)}; duplicates removed: {duplicates}; '
        f'failed pulls: {counters.get(("pubsub", "pull_errors"), 0)}; failed acks: '
        f'{counters.get(("pubsub", "ack_failed"), 0)}')
  assert duplicates >= len(confirmed)  # every id already in BigQuery came back once more
  summary = running.summary()
  assert summary['messages_read'] == 300 + duplicates
  assert summary['messages_read'] == (summary['rows_written'] + summary['dead_letters']
                                      + summary['duplicates_removed'])


def test_a_subscription_gone_past_the_grace_period_fails_the_run_loudly(
    tmp_path, pubsub_emulator, bigquery_emulator, bq_client, bq_dataset):
  """``run()`` (what ``python -m beam_pipelines.pubsub_to_bigquery`` calls) raises the read's
  error soon after the grace period, instead of waiting on a deleted subscription."""
  import threading
  import uuid

  from google.cloud import pubsub_v1

  from beam_pipelines import pubsub_to_bigquery
  from beam_pipelines.transforms.beam_patches.direct_runner_pubsub_pull import PubSubReadError
  publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
  name = 'gone-' + uuid.uuid4().hex[:8]
  topic = publisher.topic_path(pubsub_emulator.project, name)
  subscription = subscriber.subscription_path(pubsub_emulator.project, name)
  publisher.create_topic(name=topic)
  subscriber.create_subscription(name=subscription, topic=topic)
  outcome = {}

  def run():
    try:
      outcome['summary'] = pubsub_to_bigquery.run([
          '--input_subscription', subscription, '--schema', _schema(tmp_path),
          '--output_table', f'{bigquery_emulator.project}:{bq_dataset}.events',
          '--pubsub_pull_timeout', '0.5s', '--pubsub_pull_grace', '3s', '--duration', '60'],
          print_summary=False)[1]
    except Exception as e:  # pylint: disable=broad-except
      outcome['error'] = e
  runner = threading.Thread(target=run, daemon=True)
  runner.start()
  try:
    publish(topic, _messages(range(3)))
    rows = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events', 'event_id'),
                    lambda r: len(r) >= 3, timeout=30)
    assert len(rows) == 3  # the read has pulled: the grace period applies from now on
    subscriber.delete_subscription(subscription=subscription)  # and nobody re-creates it
    deleted = time.monotonic()
    runner.join(timeout=30)
    failed_after = time.monotonic() - deleted
  finally:
    publisher.delete_topic(topic=topic)
  assert not runner.is_alive() and 'summary' not in outcome, 'the run did not fail'
  error = outcome['error']
  assert isinstance(error, PubSubReadError), repr(error)
  assert subscription in str(error) and 'longer than the grace period of 3 s' in str(error)
  assert 'NotFound' in str(error)
  assert 3 <= failed_after < 20, failed_after
