"""BigQuery-sourced lookups against the local emulator: a table, a query, keyed mode, and
the side-input refresh while the table changes."""

import json
import uuid
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue
from google.cloud import bigquery

from beam_pipelines.transforms.enrichment.config import EnrichmentConfig
from beam_pipelines.transforms.enrichment.sources.base import LookupSourceError
from beam_pipelines.transforms.enrichment.sources.bigquery import BigQueryLookupSource
from beam_pipelines.transforms.enrichment.transform import EnrichWithSideInput

pytestmark = pytest.mark.emulator

_COLLECTED = {}


def _collect(element, token):
  _COLLECTED.setdefault(token, []).append(element)


def enrich(rows, cfg):
  token = uuid.uuid4().hex
  with beam.Pipeline('FnApiRunner') as p:
    result = p | beam.Create(rows, reshuffle=False) | 'Enrich' >> EnrichWithSideInput(cfg)
    _ = result.rows | 'Rows' >> beam.Map(_collect, token + 'r')
    _ = result.dead_letters | 'Dead' >> beam.Map(_collect, token + 'd')
  return _COLLECTED.pop(token + 'r', []), _COLLECTED.pop(token + 'd', [])


@pytest.fixture
def regions_table(bigquery_emulator, bq_client, bq_dataset):
  table_id = f'{bigquery_emulator.project}.{bq_dataset}.regions'
  table = bigquery.Table(table_id, schema=[
      bigquery.SchemaField('code', 'STRING'), bigquery.SchemaField('region', 'STRING'),
      bigquery.SchemaField('population_m', 'NUMERIC'),
      bigquery.SchemaField('version', 'INT64')])
  bq_client.create_table(table)
  errors = bq_client.insert_rows_json(table_id, [
      {'code': 'DE', 'region': 'EMEA', 'population_m': '83.2', 'version': 1},
      {'code': 'US', 'region': 'AMER', 'population_m': '335', 'version': 1},
      {'code': 'JP', 'region': 'APAC', 'population_m': '124.5', 'version': 1},
      {'code': 'DE', 'region': 'Europe', 'population_m': '84.4', 'version': 2},
  ])
  assert errors == []
  return table_id


ROWS = [{'id': 1, 'cc': 'DE'}, {'id': 2, 'cc': 'JP'}, {'id': 3, 'cc': 'NG'}]


def test_lookup_from_a_bigquery_query(regions_table):
  cfg = EnrichmentConfig(
      source=BigQueryLookupSource(
          query=f'SELECT code, region, population_m FROM `{regions_table}` '
                'ORDER BY version'),
      keys=('cc',), lookup_keys=('code',), fields=('region', 'population_m'),
      missing='dead_letter')
  out, dead = enrich(ROWS, cfg)
  got = {r['id']: r for r in out}
  # ORDER BY version: DE's version 2 is read last and wins (duplicate rule: last wins).
  assert got[1] == {'id': 1, 'cc': 'DE', 'region': 'Europe', 'population_m': '84.4'}
  assert got[2]['region'] == 'APAC'
  assert [(d['errorType'], d['stage']) for d in dead] == [('enrichment_miss', 'enrich')]


@pytest.mark.parametrize('mode', ['broadcast', 'keyed'])
def test_lookup_from_a_bigquery_table(regions_table, mode):
  cfg = EnrichmentConfig(
      source=BigQueryLookupSource(table=regions_table), keys=('cc',),
      lookup_keys=('code',), fields=('region',), mode=mode)
  out, dead = enrich(ROWS, cfg)
  got = {r['id']: r.get('region') for r in out}
  assert got[2] == 'APAC' and got[3] is None and dead == []
  assert got[1] in ('EMEA', 'Europe')  # table order is not defined; use a query to order


def test_missing_table_fails_naming_it(bigquery_emulator, bq_dataset):
  source = BigQueryLookupSource(table=f'{bigquery_emulator.project}.{bq_dataset}.nope')
  with pytest.raises(LookupSourceError, match=r'bq://.*\.nope'):
    list(source.read())


@dataclass(frozen=True)
class ChangingTableSource(BigQueryLookupSource):
  """A real BigQuery lookup table that is rewritten (DML) right after each read, to the next
  staged region: the table changes between two refreshes while the stream runs."""
  staged: tuple = ()
  log: Optional[str] = None

  def read(self):
    records = list(super().read())
    with open(self.log, 'a', encoding='utf-8') as f:
      f.write(json.dumps(records) + '\n')
    with open(self.log, encoding='utf-8') as f:
      done = len(f.read().splitlines())
    if done <= len(self.staged):
      client = self._client()
      client.query(f"UPDATE `{self.table}` SET region = '{self.staged[done - 1]}' "
                   'WHERE TRUE').result()
      client.close()
    return iter(records)


def test_side_input_refresh_with_a_changing_bigquery_table(bigquery_emulator, bq_client,
                                                            bq_dataset, tmp_path):
  """The side-input refresh on the streaming DirectRunner, its ticks from a TestStream (the
  runner cannot run the periodic impulse): rows of each refresh window see the version that
  window loaded, and record it."""
  table_id = f'{bigquery_emulator.project}.{bq_dataset}.live'
  bq_client.create_table(bigquery.Table(table_id, schema=[
      bigquery.SchemaField('code', 'STRING'), bigquery.SchemaField('region', 'STRING')]))
  assert bq_client.insert_rows_json(table_id, [{'code': 'DE', 'region': 'v1'}]) == []
  cfg = EnrichmentConfig(
      source=ChangingTableSource(table=table_id, staged=('v2',), log=str(tmp_path / 'reads')),
      keys=('cc',), lookup_keys=('code',), fields=('region',), refresh_seconds=10,
      refresh_time='event', version_field='version')
  stream = (TestStream(output_tags=['ticks', 'rows'])
            .add_elements([TimestampedValue(0, 100)], tag='ticks')
            .advance_watermark_to(110, tag='ticks')
            .add_elements([TimestampedValue({'cc': 'DE', 't': 101}, 101)], tag='rows')
            .advance_watermark_to(110, tag='rows')
            .add_elements([TimestampedValue(1, 110)], tag='ticks')
            .advance_watermark_to(120, tag='ticks')
            .add_elements([TimestampedValue({'cc': 'DE', 't': 115}, 115)], tag='rows')
            .advance_watermark_to_infinity(tag='ticks')
            .advance_watermark_to_infinity(tag='rows'))
  out = tmp_path / 'out.jsonl'

  def record(row):
    with open(out, 'a', encoding='utf-8') as f:
      f.write(json.dumps(row) + '\n')

  p = beam.Pipeline(options=PipelineOptions(['--runner', 'BundleBasedDirectRunner',
                                             '--streaming']))
  streams = p | stream
  result = streams['rows'] | 'Enrich' >> EnrichWithSideInput(
      cfg, refresh_ticks=streams['ticks'])
  _ = result.rows | beam.Map(record)
  p.run().wait_until_finish()
  rows = sorted((json.loads(line) for line in out.read_text().splitlines()),
                key=lambda r: r['t'])
  assert [(r['t'], r['region']) for r in rows] == [(101, 'v1'), (115, 'v2')]
  assert rows[0]['version'] < rows[1]['version']
  assert [json.loads(line)[0]['region'] for line in
          (tmp_path / 'reads').read_text().splitlines()] == ['v1', 'v2']
