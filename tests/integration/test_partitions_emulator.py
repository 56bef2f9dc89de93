"""What the BigQuery emulator (bqemulator 1.4, DuckDB) does with partitioned and clustered
tables, checked so docs/guarantees.md can say what only real BigQuery shows:

- it keeps the partitioning, clustering and expiration metadata a table is created with, and
  lists partitions in INFORMATION_SCHEMA.PARTITIONS;
- ``DELETE ... WHERE DATE(ts) = ...`` and deletes by truncated partition key work (what the
  replace of touched partitions runs);
- it does not expire partitions (a row 10 days older than a 1-day expiration stays), and its
  ``_PARTITIONTIME`` is the insert time itself, not the partition's start as in BigQuery (so
  the suite filters ingestion-time partitions with TIMESTAMP_TRUNC, which fits both)."""

import pytest
from google.cloud import bigquery

pytestmark = pytest.mark.emulator


def rows(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


def test_partition_metadata_deletes_and_what_the_emulator_leaves_out(bq_client, bq_dataset):
  ref = f'{bq_client.project}.{bq_dataset}.p'
  table = bigquery.Table(ref, schema=[bigquery.SchemaField('ts', 'TIMESTAMP'),
                                      bigquery.SchemaField('k', 'STRING')])
  table.time_partitioning = bigquery.TimePartitioning(type_='DAY', field='ts',
                                                      expiration_ms=86400000)
  table.clustering_fields = ['k']
  bq_client.create_table(table)
  got = bq_client.get_table(ref)
  assert (got.time_partitioning.field, got.time_partitioning.type_,
          got.time_partitioning.expiration_ms, got.clustering_fields) == (
              'ts', 'DAY', 86400000, ['k'])
  bq_client.query(f"""INSERT INTO `{ref}` VALUES
      (TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 10 DAY), 'old'),
      (TIMESTAMP '2026-01-01 10:00:00', 'a'), (TIMESTAMP '2026-01-02 10:00:00', 'b')""").result()
  partitions = rows(bq_client, f"SELECT partition_id FROM {bq_dataset}.INFORMATION_SCHEMA"
                               ".PARTITIONS WHERE table_name = 'p'")
  assert {'20260101', '20260102'} <= {p['partition_id'] for p in partitions}
  # not expired, unlike BigQuery
  assert rows(bq_client, f"SELECT k FROM `{ref}` WHERE k = 'old'") == [{'k': 'old'}]
  bq_client.query(f"DELETE FROM `{ref}` WHERE DATE(ts) = '2026-01-01'").result()
  bq_client.query(f"DELETE FROM `{ref}` WHERE TIMESTAMP_TRUNC(ts, DAY) IN "
                  "(SELECT TIMESTAMP '2026-01-02')").result()
  assert rows(bq_client, f'SELECT k FROM `{ref}`') == [{'k': 'old'}]


def test_ingestion_time_partition_time_is_the_insert_time_here(bq_client, bq_dataset):
  ref = f'{bq_client.project}.{bq_dataset}.ing'
  table = bigquery.Table(ref, schema=[bigquery.SchemaField('v', 'INT64')])
  table.time_partitioning = bigquery.TimePartitioning(type_='DAY')
  bq_client.create_table(table)
  bq_client.query(f'INSERT INTO `{ref}` (v) VALUES (1)').result()
  [found] = rows(bq_client, f'SELECT _PARTITIONTIME AS pt, TIMESTAMP_TRUNC(_PARTITIONTIME, DAY) '
                            f'= TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), DAY) AS today FROM `{ref}`')
  assert found['today'] is True
  assert (found['pt'].hour, found['pt'].minute, found['pt'].second,
          found['pt'].microsecond) != (0, 0, 0, 0)  # BigQuery: midnight, the partition start
