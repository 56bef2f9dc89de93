"""The docs' "Compose your own pipeline" code runs as written: the front page's example
(README.md) in batch, and docs/compose.md's in batch and streaming.

The code blocks after ``<!-- compose-snippet:front -->`` (README.md) and
``<!-- compose-snippet:build -->`` / ``<!-- compose-snippet:run -->`` (docs/compose.md) are
extracted and executed. The only change made to them: the table, input file and
subscription names are replaced by this test's emulator dataset, a small copy of the sample
file and this test's subscription.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest
from streaming_helpers import publish, query, wait_for

pytestmark = pytest.mark.emulator

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def snippet(name, page='docs/compose.md'):
  with open(os.path.join(REPO, page), encoding='utf-8') as f:
    text = f.read()
  match = re.search(r'<!-- compose-snippet:' + name + r' -->\s*```python\n(.*?)```', text,
                    re.DOTALL)
  assert match, f'{page} has no compose-snippet:{name} code block'
  return match.group(1)


def small_sample(tmp_path):
  """The first 100 sample events (4 of them bad on purpose): (lines, path, good, bad)."""
  with open(os.path.join(REPO, 'samples', 'events.jsonl'), 'rb') as f:
    lines = [line.rstrip(b'\n') for line in f][:100]
  small = tmp_path / 'events.jsonl'
  small.write_bytes(b'\n'.join(lines) + b'\n')
  bad = 4  # every 25th sample line is bad on purpose
  return lines, small, len(lines) - bad, bad


def live(line):
  """The sample event with its event time set to now: a live stream, not a backfill (the
  DirectRunner's watermark is the wall clock; weeks-old events would be late data)."""
  try:
    obj = json.loads(line)
  except ValueError:
    return line
  if isinstance(obj, dict):
    obj['event_time'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    return json.dumps(obj).encode('utf-8')
  return line


def count(client, table):
  try:
    return list(client.query(f'SELECT COUNT(*) AS n FROM {table}').result())[0].n
  except Exception:  # pylint: disable=broad-except
    return -1  # not created yet


def test_front_page_example_runs_as_written(tmp_path, monkeypatch, bigquery_emulator, bq_client,
                                            bq_dataset):
  monkeypatch.chdir(REPO)
  _, small, good, bad = small_sample(tmp_path)
  code = snippet('front', page='README.md')
  run_code = (code.replace('my-project:analytics', f'{bigquery_emulator.project}:{bq_dataset}')
              .replace("'samples/events.jsonl'", repr(str(small))))
  assert run_code.count(bq_dataset) == 2 and str(small) in run_code
  # A fresh interpreter: the example must work on its own (Beam patches it forgets to switch
  # on cannot have been switched on by an earlier test of this process).
  done = subprocess.run([sys.executable, '-c', run_code], cwd=REPO, capture_output=True,
                        text=True, timeout=120, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  assert count(bq_client, f'{bq_dataset}.events') == good
  assert count(bq_client, f'{bq_dataset}.events_error_records') == bad


def test_compose_page_example_runs_batch_and_streaming(tmp_path, monkeypatch,
                                                        bigquery_emulator, bq_client,
                                                        bq_dataset, pubsub_topic):
  monkeypatch.chdir(REPO)
  topic, subscription = pubsub_topic
  lines, small, good, bad = small_sample(tmp_path)

  run_code = (snippet('run')
              .replace('my-project:analytics', f'{bigquery_emulator.project}:{bq_dataset}')
              .replace("'samples/events.jsonl'", repr(str(small)))
              .replace('projects/my-project/subscriptions/events', subscription))
  assert run_code != snippet('run')
  namespace = {}
  exec(compile(snippet('build'), 'docs/compose.md:compose-snippet:build', 'exec'), namespace)  # pylint: disable=exec-used
  publish(topic, [(live(line), {'event_id': f'm{i}'}) for i, line in enumerate(lines)])
  exec(compile(run_code, 'docs/compose.md:compose-snippet:run', 'exec'), namespace)  # pylint: disable=exec-used
  result = namespace['result']
  try:
    # Batch finished inside the snippet: exact counts.
    assert count(bq_client, f'{bq_dataset}.events') == good
    assert count(bq_client, f'{bq_dataset}.events_error_records') == bad
    batch_aggregated = query(bq_client, f'SELECT SUM(count) AS n FROM '
                                        f'{bq_dataset}.events_per_minute')[0]['n']
    assert batch_aggregated == good

    # Streaming: every valid row must be in the rows table and, per row, either in an
    # aggregate pane (early panes fire 10 s after a pane's first element) or a late_data
    # dead letter: nothing vanishes.
    def settled():
      rows = count(bq_client, f'{bq_dataset}.live_events')
      aggregated = query(bq_client, f'SELECT COALESCE(SUM(count), 0) AS n FROM '
                                    f'{bq_dataset}.live_events_per_minute')[0]['n'] \
          if count(bq_client, f'{bq_dataset}.live_events_per_minute') >= 0 else 0
      dead = {} if count(bq_client, f'{bq_dataset}.live_events_error_records') < 0 else {
          r['errorType']: r['n'] for r in query(
              bq_client, f'SELECT errorType, COUNT(*) AS n FROM '
                         f'{bq_dataset}.live_events_error_records GROUP BY errorType')}
      return rows, aggregated, dead
    rows, aggregated, dead = wait_for(
        settled, lambda v: v[0] == good and v[1] + v[2].get('late_data', 0) == good
        and sum(n for t, n in v[2].items() if t != 'late_data') == bad, timeout=30)
  finally:
    result.cancel()
  assert rows == good
  assert aggregated + dead.get('late_data', 0) == good
  assert sum(n for t, n in dead.items() if t != 'late_data') == bad
  assert json.dumps(dead)  # dead letters by type, for the log
