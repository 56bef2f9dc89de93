"""Helpers for streaming end-to-end tests: publish, poll with a deadline, query the emulator."""

import time


def wait_for(probe, done, timeout, interval=0.25):
  """Calls ``probe()`` until ``done(value)`` or ``timeout`` seconds; returns the last value.

  Polling for an expected result with a deadline, never a fixed sleep: the machine is shared
  and a run may be slow, so the assertion is on the value, not on elapsed time.
  """
  deadline = time.monotonic() + timeout
  while True:
    value = probe()
    if done(value) or time.monotonic() >= deadline:
      return value
    time.sleep(interval)


def query(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


def table_rows(client, table_sql_name, order_by, columns='*'):
  """Rows of a table, or [] while the pipeline has not created it yet."""
  from google.api_core.exceptions import NotFound
  try:
    return query(client, f'SELECT {columns} FROM {table_sql_name} ORDER BY {order_by}')
  except NotFound:
    return []
  except Exception as e:  # bqemulator answers 400/500 for a table created a moment ago
    if 'not found' in str(e).lower() or 'does not exist' in str(e).lower():
      return []
    raise


def publish(topic, messages):
  """messages: [(bytes, {attr: value})]; returns the message ids in order."""
  from google.cloud import pubsub_v1
  publisher = pubsub_v1.PublisherClient()
  futures = [publisher.publish(topic, data, **attrs) for data, attrs in messages]
  return [f.result(timeout=30) for f in futures]
