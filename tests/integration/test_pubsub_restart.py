"""Fault injection for the streaming pipeline (BundleBasedDirectRunner): messages pulled but
never acknowledged by a crashed consumer are redelivered; Pub/Sub becoming unreachable
mid-stream (every connection cut and new ones refused for a few seconds, then back on the
same address, as a service restart looks to a client) does not stop the pipeline; duplicates
(same id attribute) are removed; the final count in BigQuery is exact.

The outage is a TCP proxy in front of the emulator (tests/integration/tcp_outage.py): a
restarted *emulator* forgets its topics and subscriptions, and a pull landing before they are
re-created gets 404 NotFound, which races with the test and is not what a real restart does."""

import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'e2e'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from streaming_helpers import publish, table_rows, wait_for  # noqa: E402
from tcp_outage import TcpOutageProxy  # noqa: E402

from beam_pipelines.local_emulators import PubSubEmulator  # noqa: E402

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def _topic_and_subscription(project):
  from google.cloud import pubsub_v1
  publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
  topic = publisher.topic_path(project, 'restart-topic')
  subscription = subscriber.subscription_path(project, 'restart-sub')
  publisher.create_topic(name=topic)
  subscriber.create_subscription(name=subscription, topic=topic, ack_deadline_seconds=10)
  return topic, subscription


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
    schema = tmp_path / 'schema.json'
    schema.write_text(json.dumps([{'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'},
                                  {'name': 'n', 'type': 'INTEGER'}]))
    running = pubsub_to_bigquery.start([
        '--input_subscription', subscription, '--schema', str(schema),
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
