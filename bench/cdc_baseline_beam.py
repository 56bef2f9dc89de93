"""CDC baseline: the replica as a competent user would hand-write it with Beam and a MERGE.

The DataflowTemplates way (Datastream/Debezium to BigQuery templates): a Beam pipeline reads
the change records, flattens each Debezium event into a staging row (key, op, ordering
fields, after image) and loads them with WriteToBigQuery(FILE_LOADS) into a staging table;
then one MERGE takes the latest change per key (ROW_NUMBER over source time, LSN, event time)
into the replica, deleting keys whose latest change is a delete. No validation against a
schema, no change log, no history, no dead letters, nothing for late changes across merges.

    python bench/cdc_baseline_beam.py --input IN.jsonl --table P:DS.T --temp DIR

Talks to BIGQUERY_EMULATOR_HOST (switching on the suite's ``bigquery_emulator`` Beam patch, as
any hand-written pipeline would have to, to reach the local emulator).
"""

import argparse
import json
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

STAGING_SCHEMA = {'fields': [
    {'name': 'id', 'type': 'INT64'}, {'name': 'name', 'type': 'STRING'},
    {'name': 'tier', 'type': 'STRING'}, {'name': 'balance', 'type': 'NUMERIC'},
    {'name': 'updated_at', 'type': 'TIMESTAMP'}, {'name': 'op', 'type': 'STRING'},
    {'name': 'source_ts_ms', 'type': 'INT64'}, {'name': 'lsn', 'type': 'INT64'},
    {'name': 'ts_ms', 'type': 'INT64'}]}
COLUMNS = ('id', 'name', 'tier', 'balance', 'updated_at')


def to_staging_row(line):
  event = json.loads(line)
  if event is None:
    return []
  image = event.get('after') or event.get('before') or {}
  row = {c: image.get(c) for c in COLUMNS}
  if row['balance'] is not None:
    row['balance'] = str(row['balance'])
  row.update(op=event['op'], source_ts_ms=event['source']['ts_ms'],
             lsn=event['source']['lsn'], ts_ms=event.get('ts_ms'))
  return [row]


MERGE = """MERGE `{replica}` AS t
USING (SELECT * FROM `{staging}` WHERE TRUE
       QUALIFY ROW_NUMBER() OVER (PARTITION BY id
                                  ORDER BY source_ts_ms DESC, lsn DESC, ts_ms DESC) = 1) AS s
ON t.id = s.id
WHEN MATCHED AND s.op = 'd' THEN DELETE
WHEN MATCHED THEN UPDATE SET name = s.name, tier = s.tier, balance = s.balance,
  updated_at = s.updated_at
WHEN NOT MATCHED AND s.op != 'd' THEN INSERT (id, name, tier, balance, updated_at)
  VALUES (s.id, s.name, s.tier, s.balance, s.updated_at)"""


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--input', required=True)
  parser.add_argument('--table', required=True, help='replica PROJECT:DATASET.TABLE')
  parser.add_argument('--temp', required=True)
  args = parser.parse_args(argv)
  from beam_pipelines.transforms import beam_patches
  from beam_pipelines.transforms.core.bigquery_client import bigquery_client
  beam_patches.enable('bigquery_emulator')
  project, rest = args.table.split(':')
  staging = f'{args.table}_baseline_staging'
  started = time.monotonic()
  options = PipelineOptions(['--runner=FnApiRunner', f'--project={project}',
                             f'--temp_location={args.temp}'])
  with beam.Pipeline(options=options) as p:
    _ = (p
         | 'Read' >> beam.io.ReadFromText(args.input)
         | 'ToStagingRow' >> beam.FlatMap(to_staging_row)
         | 'Stage' >> beam.io.WriteToBigQuery(
             staging, schema=STAGING_SCHEMA, method='FILE_LOADS',
             create_disposition='CREATE_IF_NEEDED', write_disposition='WRITE_TRUNCATE',
             custom_gcs_temp_location=args.temp, validate=False))
  client = bigquery_client(project)
  client.query(f"CREATE TABLE IF NOT EXISTS `{project}.{rest}` (id INT64, name STRING, "
               'tier STRING, balance NUMERIC, updated_at TIMESTAMP)').result()
  merge_started = time.monotonic()
  client.query(MERGE.format(replica=f'{project}.{rest}',
                            staging=f'{project}.{rest}_baseline_staging')).result()
  done = time.monotonic()
  print(json.dumps({'seconds': done - started, 'merge_seconds': done - merge_started}))
  return 0


if __name__ == '__main__':
  raise SystemExit(main())
