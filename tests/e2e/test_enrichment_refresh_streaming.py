"""Slowly-updating enrichment while a stream runs, on the local streaming runner: the
official Pub/Sub emulator -> pubsub_to_bigquery (BundleBasedDirectRunner, worker refresh) ->
bqemulator, with the lookup a JSONL file or a BigQuery table changed mid-stream.

The guarantee checked (docs: worker refresh): a row joined ``refresh_seconds`` or more after
a change completed sees the new version; a failed reload keeps the last good version and
counts ``enrich/refresh_failures``; every row records the version it used
(``--enrichment_version_field``), and versions only move forward."""

import json
import os
import time

import pytest
from google.cloud import bigquery
from streaming_helpers import publish, table_rows, wait_for

from beam_pipelines import pubsub_to_bigquery

pytestmark = pytest.mark.emulator
REFRESH_SECONDS = 2
SCHEMA = [{'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
          {'name': 'code', 'type': 'STRING'}]


class FileLookup:
  """A JSONL lookup file, replaced whole as an operator's upload would (write, rename)."""

  def __init__(self, tmp_path, unused_client, unused_dataset):
    self.path = str(tmp_path / 'regions.jsonl')

  def source(self):
    return self.path

  def set(self, region):
    self._write(json.dumps({'code': 'A', 'region': region}) + '\n')

  def break_it(self):
    self._write('{"code": "A", "region": \n')  # a broken upload: not JSON

  def _write(self, text):
    partial = self.path + '.partial'
    with open(partial, 'w', encoding='utf-8') as f:
      f.write(text)
    os.replace(partial, self.path)


class TableLookup:
  """A BigQuery lookup table, rewritten with a DML statement."""

  def __init__(self, unused_tmp_path, client, dataset):
    self.client, self.table = client, f'{dataset}.regions'
    client.create_table(bigquery.Table(f'{client.project}.{self.table}', schema=[
        bigquery.SchemaField('code', 'STRING'), bigquery.SchemaField('region', 'STRING')]))

  def source(self):
    return f'bq://{self.table}'

  def set(self, region):
    self.client.query(f'DELETE FROM {self.table} WHERE TRUE').result()
    self.client.query(f"INSERT INTO {self.table} (code, region) VALUES ('A', '{region}')"
                      ).result()

  def break_it(self):
    self.client.delete_table(f'{self.client.project}.{self.table}')  # reads now fail


def _rows(client, dataset):
  return {r['id']: r for r in table_rows(
      client, f'{dataset}.events', 'id',
      'id, region, FORMAT_TIMESTAMP("%FT%H:%M:%E6SZ", lookup_version) AS version')}


@pytest.mark.parametrize('lookup_kind', [FileLookup, TableLookup], ids=['file', 'bigquery'])
def test_lookup_changed_while_the_stream_runs(tmp_path, bigquery_emulator, bq_client,
                                              bq_dataset, pubsub_topic, lookup_kind):
  topic, subscription = pubsub_topic
  lookup = lookup_kind(tmp_path, bq_client, bq_dataset)
  lookup.set('v1')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  running = pubsub_to_bigquery.start([
      '--input_subscription', subscription, '--schema', str(schema),
      '--output_table', f'{bq_dataset}.events', '--pubsub_pull_timeout', '0.5s',
      '--enrichment_source', lookup.source(), '--enrichment_keys', 'code',
      '--enrichment_fields', 'region', '--enrichment_version_field', 'lookup_version',
      '--enrichment_refresh_seconds', str(REFRESH_SECONDS)])

  def send_and_wait(row_id):
    publish(topic, [(json.dumps({'id': row_id, 'code': 'A'}).encode(), {})])
    return wait_for(lambda: _rows(bq_client, bq_dataset), lambda r: row_id in r,
                    timeout=30)[row_id]

  try:
    first = send_and_wait('r1')
    lookup.set('v2')
    changed = time.time()
    time.sleep(REFRESH_SECONDS + 0.5)  # the guarantee: joined >= N after the change
    second = send_and_wait('r2')
    lookup.break_it()
    time.sleep(REFRESH_SECONDS + 0.5)
    third = send_and_wait('r3')    # the reload fails: the last good version serves
    failures = wait_for(running.counters,
                        lambda c: c.get(('enrich', 'refresh_failures'), 0) >= 1, timeout=10)
  finally:
    running.cancel()
  assert (first['region'], second['region'], third['region']) == ('v1', 'v2', 'v2')
  assert first['version'] < second['version'] == third['version']
  # The version that served r2 was read after the change was complete.
  assert second['version'] >= time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(int(changed)))
  assert failures[('enrich', 'refresh_failures')] >= 1
  assert failures[('enrich', 'loads')] >= 2
