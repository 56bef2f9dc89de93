"""SLA alerts in pubsub_to_bigquery (Pub/Sub emulator -> BundleBasedDirectRunner ->
bqemulator): a burst in one 2-second window, after three ordinary ones, is flagged by Beam's
ZScore detector when the watermark passes the window; the alert reaches the alerts table,
the alert topic and a local webhook, and the report is rewritten while the job runs. The
latency printed (webhook receipt - window end) is a measurement, not asserted: the machine
is shared."""

import json
import math
import time

import pytest
from alert_receivers import Webhook, pull_all
from streaming_helpers import publish, table_rows, wait_for

from beam_pipelines import pubsub_to_bigquery

pytestmark = pytest.mark.emulator
SCHEMA = [{'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'}]
SIZE = 2
RULES = f"""
window_seconds: {SIZE}
rules:
  - {{id: id_present, kind: not_null, path: event_id}}
slas:
  - {{id: burst, volume: {{anomaly: zscore, threshold: 3, warmup: 2}}}}
"""
COUNTS = [5, 7, 6, 60]  # messages per window: ordinary, ordinary, ordinary, a burst


def iso(seconds):
  return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds)) + \
      f'.{int(seconds * 1000) % 1000:03d}Z'


def test_a_burst_is_one_alert_on_table_topic_and_webhook_while_streaming(
    tmp_path, bigquery_emulator, bq_client, bq_dataset, pubsub_topic, pubsub_emulator):
  from google.cloud import pubsub_v1
  topic, subscription = pubsub_topic
  publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
  alert_topic = publisher.topic_path(pubsub_emulator.project, f'alerts-{bq_dataset}')
  alert_sub = subscriber.subscription_path(pubsub_emulator.project, f'alerts-{bq_dataset}-s')
  publisher.create_topic(name=alert_topic)
  subscriber.create_subscription(name=alert_sub, topic=alert_topic)
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'rules.yaml').write_text(RULES)
  # Windows that start after the pipeline is up: every message is on time.
  first = math.floor(time.time() / SIZE) * SIZE + 4 * SIZE
  messages = [(json.dumps({'event_id': f'w{w}-{i}'}).encode(),
               {'ts': iso(first + w * SIZE + 0.2 + i * 0.01)})
              for w, count in enumerate(COUNTS) for i in range(count)]
  publish(topic, messages)
  burst_end = first + len(COUNTS) * SIZE
  report = tmp_path / 'report.html'
  with Webhook() as hook:
    running = pubsub_to_bigquery.start([
        '--input_subscription', subscription, '--schema', str(tmp_path / 'schema.json'),
        '--output_table', f'{bigquery_emulator.project}:{bq_dataset}.events',
        '--timestamp_attribute', 'ts', '--pubsub_pull_timeout', '0.5s',
        '--quality_rules', str(tmp_path / 'rules.yaml'), '--alert_topic', alert_topic,
        '--alert_webhook', hook.url, '--report_path', str(report),
        '--summary_interval_seconds', '1'])
    try:
      from beam_pipelines.runtime.streaming import run_until_stopped
      import threading
      stopper = threading.Thread(target=run_until_stopped, args=(running, 45), daemon=True)
      stopper.start()
      received = wait_for(lambda: list(hook.received), lambda r: len(r) >= 1, timeout=45)
      alerts = wait_for(lambda: table_rows(bq_client, f'{bq_dataset}.events_alerts', 'rule',
                                           'rule, observed, severity'),
                        lambda r: len(r) >= 1, timeout=15)
      on_topic = pull_all(alert_sub, expect=1, timeout=15)
      wait_for(lambda: report.exists() and 'events_alerts' in report.read_text(),
               lambda ok: ok, timeout=10)
      counters = running.counters()
    finally:
      running.cancel()
      stopper.join(timeout=20)
  assert [b['rule'] for _, _, b in received] == ['burst']
  assert received[0][2]['observed'] == 60 and received[0][2]['window_start'] == \
      iso(first + 3 * SIZE).replace('Z', '000Z')
  assert alerts == [{'rule': 'burst', 'observed': 60.0, 'severity': 'critical'}]
  assert [(m['rule'], a['severity']) for m, a in on_topic] == [('burst', 'critical')]
  assert counters[('alerts', 'raised')] == 1 and counters[('alerts', 'windows_checked')] >= 4
  latency = received[0][1] - burst_end
  print(f'alert latency (webhook receipt - end of the burst window): {latency:.2f} s')
  assert 0 < latency < 60
