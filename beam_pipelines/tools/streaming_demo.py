"""``make run-streaming``: pubsub_to_bigquery on live sample events against local emulators.

Starts bqemulator and the official Pub/Sub emulator on free loopback ports, starts the
streaming pipeline (BundleBasedDirectRunner) with 5-second windows, publishes the bundled
sample events for ~30 s (event times stamped at publish time; ~4% bad records; every 40th
message published twice with the same ``event_id`` attribute to show de-duplication, and
a burst of extra messages after ~20 s), waits until every message is accounted for, cancels
the pipeline and prints the run summary with the observed end-to-end latency (publish -> row
visible in BigQuery, polled every 0.25 s) and the alert latency (end of the window that broke
an SLA rule -> its alert at a local webhook, ``beam_pipelines.tools.webhook``), then stops
both emulators. The run report is rewritten every 5 s (``.demo-data/streaming-report.html``).
Exit code 0 only when the counts add up.
"""

import argparse
import json
import os
import shutil
import sys
import threading
import time

from beam_pipelines import resources
from beam_pipelines.options.values import parse_duration
from beam_pipelines.runtime.prog import prog_name
from beam_pipelines.runtime.closing import close_run
from beam_pipelines.runtime.console import format_short
from beam_pipelines.tools.emulators import (BigQueryEmulator, EmulatorError, PubSubEmulator,
                                            prepare_duckdb_extensions)
from beam_pipelines.tools.webhook import Webhook

# The demo's quality and SLA rules: windows of --window_size; a burst breaks the volume
# anomaly rule (Beam's ZScore), rows older than 30 s the freshness one.
STREAMING_RULES = """window_seconds: {window}
rules:
  - {{id: user_id_present, kind: not_null, path: user.id}}
slas:
  - {{id: volume_anomaly, volume: {{anomaly: zscore, threshold: 3, warmup: 2}}}}
  - {{id: lag_within_30s, freshness: {{max_lag: 30s}}}}
"""


def _print_alert_latency(received, burst_at):
  """Each alert the webhook got, and how long after its window's end it arrived."""
  print(f'Alerts at the local webhook: {len(received)}')
  for _, arrived, alert in received:
    end = _parse_iso(alert.get('window_end'))
    latency = f'{arrived - end:.2f}s after its window ended' if end else 'run-level'
    print(f'  {alert["severity"]:<9} {alert["rule"]:<16} window {alert.get("window_start")}: '
          f'{alert["message"]} (arrived {latency})')
  if burst_at is not None:
    print(f'  burst published at {_iso(burst_at)}')


def _parse_iso(text):
  if not text:
    return None
  import datetime
  return datetime.datetime.fromisoformat(text.replace('Z', '+00:00')).timestamp()



def _iso(seconds):
  return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds)) + \
      f'.{int(seconds * 1000) % 1000:03d}Z'


def _percentile(values, q):
  ordered = sorted(values)
  if not ordered:
    return float('nan')
  index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
  return ordered[index]


class _Publisher(threading.Thread):
  """Publishes sample lines at a steady rate; remembers when each event id was published."""

  def __init__(self, topic, lines, rate, seconds, duplicate_every, burst_at=None, burst=0):
    super().__init__(daemon=True)
    self.burst_at, self.burst = burst_at, burst
    self.burst_published_at = None
    self.template = json.loads(lines[0])  # a valid sample event, copied for the burst
    self.topic, self.lines, self.rate, self.seconds = topic, lines, rate, seconds
    self.duplicate_every = duplicate_every
    self.published_at = {}
    self.first_at = self.last_at = None  # the first and the last publish (seconds)
    self.messages = 0
    self.duplicates = 0
    self.error = None

  def run(self):
    from google.cloud import pubsub_v1
    try:
      publisher = pubsub_v1.PublisherClient()
      start = time.time()
      futures = []
      i = 0
      while time.time() - start < self.seconds:
        line = self.lines[i % len(self.lines)]
        now = time.time()
        attributes = {'ts': _iso(now)}
        try:
          obj = json.loads(line)
        except ValueError:
          obj = None
        if isinstance(obj, dict):
          obj['event_id'] = f'{obj.get("event_id", "evt")}-{i}'  # unique across loops
          obj['event_time'] = _iso(now)
          attributes['event_id'] = obj['event_id']
          line = json.dumps(obj).encode('utf-8')
          self.published_at[obj['event_id']] = now
        futures.append(publisher.publish(self.topic, line, **attributes))
        self.messages += 1
        self.first_at, self.last_at = self.first_at or now, now
        if self.duplicate_every and i % self.duplicate_every == self.duplicate_every - 1 \
            and 'event_id' in attributes:
          futures.append(publisher.publish(self.topic, line, **attributes))
          self.messages += 1
          self.duplicates += 1
        i += 1
        if self.burst and self.burst_published_at is None and now - start >= self.burst_at:
          self.burst_published_at = now  # a burst: `burst` more events in this window
          for b in range(self.burst):
            event = dict(self.template, event_id=f'burst-{b}', event_time=_iso(now))
            futures.append(publisher.publish(self.topic, json.dumps(event).encode('utf-8'),
                                             ts=_iso(now), event_id=f'burst-{b}'))
            self.messages += 1
        sleep = start + i / self.rate - time.time()
        if sleep > 0:
          time.sleep(sleep)
      for f in futures:
        f.result(timeout=60)
    except Exception as e:  # pylint: disable=broad-except
      self.error = e


class _LatencyProbe(threading.Thread):
  """Polls the rows table and notes when each published event id first became visible."""

  def __init__(self, client, table_sql, published_at, interval=0.25):
    super().__init__(daemon=True)
    self.client, self.table_sql, self.published_at = client, table_sql, published_at
    self.interval = interval
    self.seen_at = {}
    self.stop = threading.Event()

  def run(self):
    while not self.stop.is_set():
      try:
        ids = [r.event_id for r in self.client.query(
            f'SELECT event_id FROM {self.table_sql}').result()]
      except Exception:  # pylint: disable=broad-except
        ids = []  # table not created yet
      now = time.time()
      for event_id in ids:
        self.seen_at.setdefault(event_id, now)
      self.stop.wait(self.interval)

  def latencies(self):
    return [self.seen_at[k] - self.published_at[k] for k in self.seen_at
            if k in self.published_at]


def main(argv=None):
  parser = argparse.ArgumentParser(prog=prog_name('beam_pipelines.tools.streaming_demo'),
                                   description=__doc__.splitlines()[0])
  parser.add_argument('--seconds', type=float, default=30.0, help='how long to publish')
  parser.add_argument('--rate', type=float, default=10.0, help='messages per second')
  parser.add_argument('--window_size', default='5s')
  parser.add_argument('--burst_at', type=float, default=20.0,
                      help='seconds after the start: publish a burst of --burst messages')
  parser.add_argument('--burst', type=int, default=200)
  parser.add_argument('--data_dir', default='.demo-data',
                      help='emulator data and logs (default: %(default)s, in the working '
                           'directory)')
  args = parser.parse_args(argv)

  try:
    prepare_duckdb_extensions()
  except EmulatorError as e:
    print(f'streaming_demo: error: {e}', file=sys.stderr)
    return 1
  bq_dir = os.path.join(args.data_dir, 'bigquery-streaming')
  shutil.rmtree(bq_dir, ignore_errors=True)
  os.makedirs(args.data_dir, exist_ok=True)
  with open(resources.sample('events.jsonl'), 'rb') as f:
    lines = [line.rstrip(b'\n') for line in f]

  with BigQueryEmulator(data_dir=bq_dir, log_dir=args.data_dir) as bq, \
      PubSubEmulator(log_dir=args.data_dir) as ps:
    os.environ.update(bq.environment())
    os.environ.update(ps.environment())
    os.environ.update({'NO_GCE_CHECK': 'True', 'GCE_METADATA_HOST': '127.0.0.1:9',
                       'GCE_METADATA_IP': '127.0.0.1:9'})
    print(f'BigQuery emulator on {bq.endpoint}, Pub/Sub emulator on {ps.host}')
    client = bq.client()
    client.create_dataset('demo', exists_ok=True)
    from google.cloud import pubsub_v1
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(ps.project, 'demo-events')
    subscription = subscriber.subscription_path(ps.project, 'demo-events-sub')
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)

    window_seconds = parse_duration(args.window_size)
    rules = os.path.join(args.data_dir, 'streaming-rules.yaml')
    with open(rules, 'w', encoding='utf-8') as f:
      f.write(STREAMING_RULES.format(window=window_seconds))
    hook = Webhook().__enter__()
    from beam_pipelines import pubsub_to_bigquery
    pipeline_args = [
        '--input_subscription', subscription,
        '--schema', resources.sample('events_schema.json'),
        '--output_table', f'{bq.project}:demo.events',
        '--id_attribute', 'event_id', '--timestamp_attribute', 'ts',
        '--window', 'fixed', '--window_size', args.window_size,
        '--allowed_lateness', '30s', '--late_gate_shards', '1',
        '--aggregate_keys', 'event_type', '--aggregate_sum', 'quantity,amount',
        '--aggregate_max', 'score', '--aggregate_distinct', 'user.id',
        '--pubsub_pull_timeout', '0.5s',
        '--quality_rules', rules, '--alert_webhook', hook.url,
        '--report_path', os.path.join(args.data_dir, 'streaming-report.html'),
        '--summary_interval_seconds', '5']
    print('python -m beam_pipelines.pubsub_to_bigquery ' + ' '.join(pipeline_args))
    running = pubsub_to_bigquery.start(pipeline_args)
    started = time.time()
    publisher_thread = _Publisher(topic, lines, args.rate, args.seconds, duplicate_every=40,
                                  burst_at=args.burst_at, burst=args.burst)
    probe = _LatencyProbe(client, 'demo.events', publisher_thread.published_at)
    publisher_thread.start()
    probe.start()
    print(f'publishing ~{args.rate:g} msg/s for {args.seconds:g}s ...')
    publisher_thread.join()
    if publisher_thread.error:
      print(f'publisher failed: {publisher_thread.error}', file=sys.stderr)
    # Wait until every message is accounted for by the pipeline's counters, the last window
    # has fired, and the tables hold what the sinks were given (inserts are asynchronous).
    deadline = time.time() + 90
    last_window_end = time.time() + parse_duration(args.window_size) + 1

    def table_count(name):
      try:
        return list(client.query(f'SELECT COUNT(*) AS n FROM demo.{name}').result())[0].n
      except Exception:  # pylint: disable=broad-except
        return -1
    # ... and every window with events has been checked against the SLA rules; and nothing
    # moved for one poll (a window's aggregates and its check fire at the same watermark).
    windows = 0 if publisher_thread.first_at is None else int(
        publisher_thread.last_at // window_seconds
        - publisher_thread.first_at // window_seconds) + 1
    previous = None
    while time.time() < deadline:
      s = running.summary()
      accounted = (s['rows_written'] + s['dead_letters'] + s['duplicates_removed']
                   - s['aggregation_exclusions'])
      checked = (s.get('alerts') or {}).get('windows_checked', 0)
      now_counts = (accounted, checked, s['aggregate_rows_written'], s['windows_emitted'])
      if (accounted >= publisher_thread.messages and time.time() > last_window_end
          and checked >= windows and now_counts == previous
          and table_count('events') == s['rows_written']
          and table_count('events_error_records') == s['dead_letters']
          and table_count('events_aggregates') == s['aggregate_rows_written']):
        break
      previous = now_counts
      time.sleep(1.0)
    probe.stop.set()
    probe.join()
    state = running.cancel()
    elapsed = time.time() - started
    summary = running.summary()
    summary['final_state'] = str(state)

    hook.__exit__(None, None, None)
    title = 'pubsub_to_bigquery (streaming demo) summary'
    close_run(summary, running.cfg, running.started_at, title, print_summary=False)
    print()
    print(format_short(summary, title))
    tables = {}
    for name in ('events', 'events_error_records', 'events_aggregates'):
      tables[name] = list(client.query(f'SELECT COUNT(*) AS n FROM demo.{name}').result())[0].n
    print()
    print('Queried back from the emulator:')
    for name, n in tables.items():
      print(f'  demo.{name:<28}{n:>8} rows')
    print('  aggregates of the last windows (demo.events_aggregates):')
    for row in client.query(
        'SELECT event_type, FORMAT_TIMESTAMP("%T", window_start) AS start, pane_timing, '
        'count, sum_quantity, distinct_user_id FROM demo.events_aggregates '
        'ORDER BY window_start DESC, event_type LIMIT 5').result():
      print('   ', dict(row.items()))
    latencies = probe.latencies()
    print()
    print(f'Published {publisher_thread.messages} messages ({publisher_thread.duplicates} '
          f'duplicates) in {args.seconds:g}s; pipeline ran {elapsed:.1f}s.')
    print(f'End-to-end latency (publish -> row visible in BigQuery, {len(latencies)} rows, '
          f'polled every {probe.interval}s): p50 {_percentile(latencies, 0.5):.2f}s, '
          f'p99 {_percentile(latencies, 0.99):.2f}s, max {max(latencies or [float("nan")]):.2f}s')
    _print_alert_latency(hook.received, publisher_thread.burst_published_at)
    accounted = (summary['rows_written'] + summary['dead_letters']
                 + summary['duplicates_removed'] - summary['aggregation_exclusions'])
    ok = (summary['messages_read'] == publisher_thread.messages == accounted
          and tables['events'] == summary['rows_written']
          and tables['events_error_records'] == summary['dead_letters']
          and tables['events_aggregates'] == summary['aggregate_rows_written']
          == summary['windows_emitted'] > 0)
    print(f'Counting invariant: messages {publisher_thread.messages} == rows '
          f'{summary["rows_written"]} + dead letters {summary["dead_letters"]} + duplicates '
          f'removed {summary["duplicates_removed"]} - rows also dead-lettered by the window '
          f'stage {summary["aggregation_exclusions"]}: {"OK" if ok else "MISMATCH"}')
    return 0 if ok else 1


if __name__ == '__main__':
  sys.exit(main())
