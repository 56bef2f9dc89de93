"""SLA alerts in files_to_bigquery against the emulators: a freshness breach provoked with
day-old events, a volume anomaly (Beam's ZScore) provoked with a burst, each one alert in the
alerts table, on the Pub/Sub topic and at a local webhook (whose first answer is an HTTP 500:
retried and counted); --fail_on_alert stops the run with exit code 3 after everything is
written. A webhook nobody listens on is retried, counted and never fails the run."""

import json
import time

import apache_beam as beam
import pytest
from alert_receivers import Webhook, pull_all
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.core.dead_letter import format_timestamp
from beam_pipelines.transforms.monitoring import AlertDeliveryConfig, DeliverAlerts

SCHEMA = [{'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
          {'name': 'ts', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'}]
RULES = """
window_seconds: 60
timestamp_field: ts
rules:
  - {id: id_present, kind: not_null, path: id}
slas:
  - {id: fresh, freshness: {field: ts, max_lag: 1h}}
  - {id: burst, volume: {anomaly: zscore, threshold: 3, warmup: 5}, severity: warning}
"""
# rows per one-minute window: ordinary traffic, then a burst in the last window
COUNTS = [20, 24, 18, 22, 19, 25, 21, 17, 23, 20, 22, 19, 200]


def _lines(now):
  start = (int(now) // 60 - 20) * 60  # 20 minutes ago, on a minute
  lines = []
  for w, count in enumerate(COUNTS):
    lines += [{'id': f'w{w}-{i}', 'ts': format_timestamp(start + 60 * w + i % 50)}
              for i in range(count)]
  old = start - 2 * 86400  # a window of day-old events: their lag breaks the 1 h SLA
  lines += [{'id': f'old-{i}', 'ts': format_timestamp(old + i)} for i in range(10)]
  return lines, start, old


@pytest.mark.emulator
def test_freshness_and_burst_alerts_reach_table_topic_and_webhook(
    tmp_path, bigquery_emulator, bq_client, bq_dataset, pubsub_topic, capsys):
  topic, subscription = pubsub_topic
  lines, start, old = _lines(time.time())
  (tmp_path / 'in.jsonl').write_text('\n'.join(json.dumps(x) for x in lines) + '\n')
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'rules.yaml').write_text(RULES)
  table = f'{bigquery_emulator.project}:{bq_dataset}.ev'
  with Webhook(fail_first=1) as hook:
    with pytest.raises(SystemExit) as exit_:
      files_to_bigquery.run([
          '--input', str(tmp_path / 'in.jsonl'), '--schema', str(tmp_path / 'schema.json'),
          '--output_table', table, '--quality_rules', str(tmp_path / 'rules.yaml'),
          '--alert_topic', topic, '--alert_webhook', hook.url, '--fail_on_alert',
          '--summary_path', str(tmp_path / 'summary.json')])
    received = [body for _, _, body in hook.received]
  assert exit_.value.code == 3
  assert 'failing the run: 2 alert(s) raised (--fail_on_alert any): burst, fresh' in \
      capsys.readouterr().err
  expected = {('fresh', format_timestamp(old), 'critical'),
              ('burst', format_timestamp(start + 60 * 12), 'warning')}
  rows = list(bq_client.query(
      f'SELECT rule, window_start, severity, observed, expected, quality_query '
      f'FROM {bq_dataset}.ev_alerts').result())
  assert {(r.rule, format_timestamp(r.window_start.timestamp()), r.severity)
          for r in rows} == expected
  by_rule = {r.rule: r for r in rows}
  assert by_rule['burst'].observed == 200 and by_rule['burst'].expected == 'zscore score < 3'
  assert by_rule['fresh'].observed > 2 * 86400 - 60
  # the link back: the quality row of the window, found by running the query
  [quality] = list(bq_client.query(by_rule['fresh'].quality_query).result())
  assert quality.rows == 10 and quality.lag_max_seconds > 2 * 86400 - 60
  # the same alerts on the topic and at the webhook (after one HTTP 500, retried)
  messages = pull_all(subscription, expect=2)
  assert {(m['rule'], m['window_start'], a['severity']) for m, a in messages} == expected
  assert {(b['rule'], b['window_start'], b['severity']) for b in received} == expected
  assert all(b['text'].startswith(f'[{b["severity"]}] files_to_bigquery: ') for b in received)
  summary = json.loads((tmp_path / 'summary.json').read_text())
  assert summary['alerts']['raised'] == 2 and summary['alerts']['critical'] == 1
  assert summary['alerts']['delivery'] == {
      'pubsub': {'delivered': 2, 'retries': 0, 'failed': 0},
      'webhook': {'delivered': 2, 'retries': 1, 'failed': 0}}
  # every row was still written: alerts do not stop the data
  assert summary['rows_written'] == len(lines) and summary['invariant']['holds']


def test_an_unreachable_webhook_is_retried_counted_and_not_fatal():
  """No emulator: DeliverAlerts alone, to a loopback port nobody listens on."""
  import socket
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]  # closed again when the block ends: connection refused
  config = AlertDeliveryConfig(webhook=f'http://127.0.0.1:{port}/x', attempts=3,
                               backoff_seconds=0.01, timeout_seconds=2)
  alert = {'alert_id': 'p/r/run', 'severity': 'critical', 'pipeline': 'p', 'message': 'm',
           'rule': 'r'}
  p = beam.Pipeline(options=PipelineOptions(runner='FnApiRunner'))
  _ = p | beam.Create([alert]) | DeliverAlerts(config)
  result = p.run()
  result.wait_until_finish()
  counters = {m.key.metric.name: m.committed for m in result.metrics().query()['counters']}
  assert counters == {'webhook_retries': 2, 'webhook_failed': 1}
