"""files_to_bigquery --input_notifications against the Pub/Sub and BigQuery emulators: a
streaming job loads the files notifications name (and, at start, the files the manifest
lacks) exactly once: duplicated notifications, other events, files the pattern does not
match and missing files are each handled; a restart loads only the new files; a job
SIGKILLed mid-flight and restarted ends with every record exactly once; two files in one
event-time window make one aggregate (the streaming semantics a loop of batch runs lacks);
quality scores are committed per window; with --watch_interval the process publishes the
notifications of a local folder itself. Exact counts of rows, dead letters and manifest
entries; 1 s commit windows."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from streaming_helpers import publish

from beam_pipelines import files_to_bigquery
from beam_pipelines.runtime.notify_local import notification

pytestmark = pytest.mark.emulator
SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'kind', 'type': 'STRING'},
          {'name': 'ts', 'type': 'TIMESTAMP'}]
OLD = 1_700_000_000


def write_file(folder, name, ids, bad=1, ts=None, mtime=OLD):
  """A JSONL file: one good row per id (``ts`` its event time), then ``bad`` broken lines."""
  path = os.path.join(folder, name)
  stamp = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts if ts else OLD))
  with open(path, 'w') as f:
    for i in ids:
      f.write(json.dumps({'id': i, 'kind': 'k', 'ts': stamp}) + '\n')
    for j in range(bad):
      f.write('{"id": %d, broken\n' % (1000 + j))
  os.utime(path, (mtime, mtime))
  return path


def notify(topic, *paths, event='OBJECT_FINALIZE', bucket=None):
  """Publishes a Cloud Storage style notification per path (local: no bucketId)."""
  from apache_beam.io.filesystem import FileMetadata
  messages = []
  for path in paths:
    size = os.path.getsize(path) if os.path.exists(path) else 0
    payload, attributes = notification(FileMetadata(path, size, OLD))
    attributes['eventType'] = event
    if bucket:
      attributes['bucketId'] = bucket
    messages.append((payload, attributes))
  publish(topic, messages)


@pytest.fixture
def setup(tmp_path, bigquery_emulator, bq_dataset, pubsub_topic):
  data = tmp_path / 'in'
  data.mkdir()
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  topic, subscription = pubsub_topic
  table = f'{bigquery_emulator.project}:{bq_dataset}.events'
  base = ['--input', str(data / '*.jsonl'), '--schema', str(schema), '--output_table', table,
          '--temp_location', str(tmp_path / 'tmp'), '--input_notifications', subscription,
          '--commit_interval', '1s']
  return {'data': str(data), 'base': base, 'dataset': bq_dataset, 'topic': topic}


def counts(client, ds):
  """(rows, distinct ids, dead letters, manifest file entries, commit markers); zeros for
  tables not created yet."""
  from google.api_core.exceptions import NotFound

  def one(sql):
    try:
      return list(client.query(sql).result())[0][0]
    except NotFound:
      return 0
  return (one(f'SELECT COUNT(*) FROM {ds}.events'),
          one(f'SELECT COUNT(DISTINCT id) FROM {ds}.events'),
          one(f'SELECT COUNT(*) FROM {ds}.events_error_records'),
          one(f"SELECT COUNT(*) FROM {ds}.events_loads WHERE action != 'commit'"),
          one(f"SELECT COUNT(*) FROM {ds}.events_loads WHERE action = 'commit'"))


def manifest(client, ds):
  return sorted((os.path.basename(r['path']), r['rows'], r['dead_letters'], r['action'])
                for r in client.query(f"SELECT * FROM {ds}.events_loads "
                                      "WHERE action != 'commit'").result())


def wait_until(probe, done, timeout=40):
  deadline = time.monotonic() + timeout
  while True:
    value = probe()
    if done(value) or time.monotonic() > deadline:
      return value
    time.sleep(0.5)


def stream(setup, seconds, *extra):
  """Runs the streaming job for ``seconds`` in a thread; returns a join() -> summary."""
  out = {}

  def target():
    try:
      out['summary'] = files_to_bigquery.run(
          setup['base'] + ['--duration', str(seconds)] + list(extra), print_summary=False)[1]
    except BaseException as e:  # pylint: disable=broad-except
      out['error'] = e
  thread = threading.Thread(target=target, daemon=True)
  thread.start()

  def join():
    thread.join(timeout=seconds + 90)
    assert not thread.is_alive(), 'the job did not stop'
    if 'error' in out:
      raise out['error']
    return out['summary']
  return join


def test_files_at_start_and_notified_are_loaded_once_with_one_aggregate(setup, bq_client):
  """a is there at start (the catch-up), b and c are notified while the job runs (b twice);
  an OBJECT_DELETE, a file the pattern does not match and a missing file are notified too.
  The good rows of a, b and c share one 5 s event-time window ahead of now: one aggregate
  row counts them all, although they arrived in different commit windows."""
  ds, data, topic = setup['dataset'], setup['data'], setup['topic']
  window_start = (int(time.time()) // 5) * 5 + 20
  write_file(data, 'a.jsonl', range(0, 5), ts=window_start + 1)
  join = stream(setup, 40, '--window', 'fixed', '--window_size', '5s',
                '--event_time_field', 'ts', '--aggregate_keys', 'kind')
  wait_until(lambda: counts(bq_client, ds)[3], lambda n: n >= 1)
  assert counts(bq_client, ds)[:4] == (5, 5, 1, 1)
  b = write_file(data, 'b.jsonl', range(5, 8), bad=2, ts=window_start + 2)
  other = os.path.join(data, 'notes.txt')
  with open(other, 'w') as f:
    f.write('not an input\n')
  notify(topic, b, b, other, os.path.join(data, 'gone.jsonl'))
  notify(topic, b, event='OBJECT_DELETE')
  c = write_file(data, 'c.jsonl', range(8, 10), ts=window_start + 3)
  notify(topic, c)
  notified_at = time.monotonic()
  notify(topic, c)
  wait_until(lambda: counts(bq_client, ds)[3], lambda n: n >= 3)
  latency = time.monotonic() - notified_at
  aggregates = wait_until(
      lambda: list(bq_client.query(f'SELECT * FROM {ds}.events_aggregates').result())
      if counts(bq_client, ds)[3] >= 3 else [], lambda rows: len(rows) >= 1, timeout=60)
  summary = join()
  print(f"c visible {latency:.1f} s after its notification; notifications "
        f"{summary.get('notifications')}, loads {summary['loads']}")
  rows, ids, dead, files, markers = counts(bq_client, ds)
  assert (rows, ids, dead, files) == (10, 10, 1 + 2 + 1 + 1, 3)  # + gone.jsonl
  assert manifest(bq_client, ds) == [('a.jsonl', 5, 1, 'new'), ('b.jsonl', 3, 2, 'new'),
                                     ('c.jsonl', 2, 1, 'new')]
  assert [(r['kind'], r['count']) for r in bq_client.query(
      f'SELECT * FROM {ds}.events_aggregates').result()] == [('k', 10)], aggregates
  missing = list(bq_client.query(
      f"SELECT errorType, sourceId FROM {ds}.events_error_records "
      "WHERE errorType = 'missing_file'").result())
  assert [os.path.basename(r['sourceId']) for r in missing] == ['gone.jsonl:0']
  notified = summary['notifications']
  assert notified['ignored_events'] == 1 and notified['not_matching'] == 1
  assert notified['missing_files'] == 1
  assert summary['loads']['files_committed'] == 3
  assert markers == summary['loads']['commits'] - len(
      {r['run_id'] for r in bq_client.query(
          f"SELECT run_id FROM {ds}.events_loads WHERE action != 'commit'").result()})


def test_restart_loads_only_the_new_files(setup, bq_client):
  ds, data, topic = setup['dataset'], setup['data'], setup['topic']
  a = write_file(data, 'a.jsonl', range(0, 5))
  join = stream(setup, 8)
  wait_until(lambda: counts(bq_client, ds)[3], lambda n: n >= 1)
  notify(topic, a)  # redelivered: skipped, the manifest lists a
  first = join()
  assert counts(bq_client, ds)[:4] == (5, 5, 1, 1)
  assert first['loads']['files_committed'] == 1
  b = write_file(data, 'b.jsonl', range(5, 8), bad=2)
  notify(topic, b, a)  # published while no job runs: kept by the subscription
  write_file(data, 'c.jsonl', range(8, 10))  # its notification was lost: the catch-up
  join = stream(setup, 10)
  wait_until(lambda: counts(bq_client, ds)[3], lambda n: n >= 3)
  # a changes while the job runs: with --changed_files error (the default) a streaming job
  # does not stop; it commits a changed_file dead letter (in a window with no file to load)
  notify(topic, write_file(data, 'a.jsonl', range(0, 6), mtime=OLD + 100))
  wait_until(lambda: counts(bq_client, ds)[2], lambda n: n >= 5)
  second = join()
  assert counts(bq_client, ds)[:4] == (10, 10, 1 + 2 + 1 + 1, 3)
  assert second['loads']['files_committed'] == 2
  assert second['loads']['files_changed'] == 1
  assert second['records_read'] == 5 + 3
  assert manifest(bq_client, ds) == [('a.jsonl', 5, 1, 'new'), ('b.jsonl', 3, 2, 'new'),
                                     ('c.jsonl', 2, 1, 'new')]
  changed = list(bq_client.query(f"SELECT sourceId FROM {ds}.events_error_records "
                                 "WHERE errorType = 'changed_file'").result())
  assert [os.path.basename(r['sourceId']) for r in changed] == ['a.jsonl:0']


@pytest.mark.parametrize('point', ['staged', 'commit_sent'])
def test_killed_mid_flight_then_restarted_loads_every_record_once(setup, bq_client, point):
  """The job's whole process tree gets SIGKILL while it loads two notified files
  (tests/e2e/killed_run.py): the notifications were acknowledged when pulled, so the restart
  finds the files by its catch-up match and leaves every record exactly once."""
  ds, data, topic = setup['dataset'], setup['data'], setup['topic']
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'killed_run.py')
  killed = subprocess.Popen([sys.executable, script, point] + setup['base']
                            + ['--duration', '60'], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  time.sleep(6)  # past the job's start
  assert killed.poll() is None, killed.stderr.read().decode()[-3000:]
  notify(topic, write_file(data, 'a.jsonl', range(0, 5)),
         write_file(data, 'b.jsonl', range(5, 8), bad=2))
  _, stderr = killed.communicate(timeout=60)
  assert killed.returncode == -9, stderr.decode()[-3000:]
  left = counts(bq_client, ds)[:4]
  print(f'killed at {point}: left {left}')
  nothing, everything = (0, 0, 0, 0), (8, 8, 3, 2)
  assert left in (nothing, everything)
  if point == 'staged':
    assert left == nothing
  summary = stream(setup, 8)()
  assert counts(bq_client, ds)[:4] == everything
  assert summary['loads']['files_committed'] == (0 if left == everything else 2)


def test_watch_interval_publishes_a_local_folders_notifications(setup, bq_client):
  """--watch_interval with --input_notifications: this process polls the folder and
  publishes a notification per new settled file; the streaming job loads it."""
  ds, data = setup['dataset'], setup['data']
  write_file(data, 'a.jsonl', range(0, 3))
  join = stream(setup, 12, '--watch_interval', '1s')
  wait_until(lambda: counts(bq_client, ds)[3], lambda n: n >= 1)
  write_file(data, 'b.jsonl', range(3, 7), mtime=time.time() - 5)
  wait_until(lambda: counts(bq_client, ds)[3], lambda n: n >= 2)
  summary = join()
  assert counts(bq_client, ds)[:4] == (7, 7, 2, 2)
  assert summary['notifications']['files'] == 1  # b; a came by the catch-up


def test_the_dataflow_streaming_job_builds_offline(monkeypatch, tmp_path):
  """``--runner DataflowRunner --dry_run=True`` (translated offline, nothing submitted; no
  Dataflow service can run here): the streaming job reading the notifications of a bucket,
  committing per window, is built and the command returns without waiting."""
  monkeypatch.delenv('BIGQUERY_EMULATOR_HOST', raising=False)
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  result, summary = files_to_bigquery.run([
      '--runner', 'DataflowRunner', '--dry_run=True', '--project', 'my-project',
      '--region', 'europe-west1', '--temp_location', 'gs://my-bucket/tmp',
      '--input', 'gs://my-landing/events/*.jsonl', '--schema', str(schema),
      '--output_table', 'my-project:analytics.events',
      '--input_notifications', 'projects/my-project/subscriptions/landing',
      '--window', 'fixed', '--window_size', '1m', '--event_time_field', 'ts',
      '--aggregate_keys', 'kind', '--duration', '600'], print_summary=False)
  assert summary['job']['reason'].startswith('dry run')
  assert result.job.proto.type.name == 'JOB_TYPE_STREAMING'
  names = {t.unique_name for t in result.job.proto_pipeline.components.transforms.values()}
  for step in ('ReadNotifications/ReadFromPubSub', 'ReadNotifications/CatchUp',
               'ReadNotifications/OncePerWindow', 'SelectFiles', 'ReadEvents',
               'AggregatesToCommitWindows', 'CommitLoads/PerWindow'):
    assert step in names, sorted(n for n in names if '/' not in n)


def test_quality_scores_and_dead_letters_are_committed_per_window(setup, bq_client, tmp_path):
  """--quality_rules in the streaming job: the scores (windowed by their rows' time) are
  moved into commit windows and committed; a rule's dead letter is committed with its file."""
  ds, data, topic = setup['dataset'], setup['data'], setup['topic']
  rules = tmp_path / 'rules.yaml'
  rules.write_text('window_seconds: 2\nrules:\n'
                   '  - {id: id_small, kind: range, path: id, max: 3, action: dead_letter}\n')
  join = stream(setup, 14, '--quality_rules', str(rules))
  time.sleep(3)
  notify(topic, write_file(data, 'a.jsonl', range(0, 5)))
  wait_until(lambda: counts(bq_client, ds)[3], lambda n: n >= 1)
  scores = wait_until(lambda: list(bq_client.query(
      f'SELECT `rows`, dead_lettered FROM {ds}.events_quality').result())
      if counts(bq_client, ds)[3] else [], lambda rows: sum(r['rows'] for r in rows) >= 5)
  join()
  assert counts(bq_client, ds)[:4] == (4, 4, 1 + 1, 1)
  assert (sum(r['rows'] for r in scores), sum(r['dead_lettered'] for r in scores)) == (5, 1)
  assert manifest(bq_client, ds) == [('a.jsonl', 4, 2, 'new')]
