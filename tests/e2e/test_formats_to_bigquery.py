"""files_to_bigquery with --input_format csv|avro|parquet against the BigQuery emulator, and
the configuration errors of the new options."""

import base64
import datetime
import decimal
import json

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam_pipelines import files_to_bigquery

SCHEMA = [
    {'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'name', 'type': 'STRING'},
    {'name': 'amount', 'type': 'NUMERIC'},
    {'name': 'ts', 'type': 'TIMESTAMP'},
]
UTC = datetime.timezone.utc


def write_csv(path):
  path.write_bytes(b'id,name,amount,ts\n'
                   b'1,"a, ""quoted""\nname",1.50,2026-01-01 00:00:00\n'
                   b'2,,,\n'
                   b'x,b,1,\n'
                   b'4,b\n')
  # (sourceId suffix, errorType, stage, payload)
  # Record 1 spans lines 2-3 (a quoted newline), so the bad records are lines 5 and 6.
  return [(':5', 'type_mismatch:id', 'validate', b'x,b,1,'),
          (':6', 'csv_column_count', 'parse', b'4,b')]


def write_avro(path):
  schema = fastavro.parse_schema({'type': 'record', 'name': 'E', 'fields': [
      {'name': 'id', 'type': ['null', 'long']}, {'name': 'name', 'type': ['null', 'string']},
      {'name': 'amount', 'type': ['null', {'type': 'bytes', 'logicalType': 'decimal',
                                           'precision': 10, 'scale': 2}]},
      {'name': 'ts', 'type': ['null', {'type': 'long', 'logicalType': 'timestamp-millis'}]}]})
  with open(path, 'wb') as f:
    fastavro.writer(f, schema, [
        {'id': 1, 'name': 'a, "quoted"\nname', 'amount': decimal.Decimal('1.50'),
         'ts': datetime.datetime(2026, 1, 1, tzinfo=UTC)},
        {'id': 2, 'name': None, 'amount': None, 'ts': None},
        {'id': None, 'name': 'b', 'amount': decimal.Decimal('1.00'), 'ts': None},
        {'id': 4, 'name': 'b', 'amount': None,
         'ts': datetime.datetime(1, 1, 1, tzinfo=UTC)}])
  return [(':3', 'missing_required:id', 'validate',
           b'{"id":null,"name":"b","amount":"1.00","ts":null}')]


def write_parquet(path):
  pq.write_table(pa.table({
      'id': pa.array([1, 2, None, 4], pa.int64()),
      'name': ['a, "quoted"\nname', None, 'b', 'b'],
      'amount': pa.array([decimal.Decimal('1.50'), None, decimal.Decimal('1'),
                          decimal.Decimal('0.0000000001')], pa.decimal128(12, 10)),
      'ts': pa.array([datetime.datetime(2026, 1, 1, tzinfo=UTC), None, None, None],
                     pa.timestamp('ms', tz='UTC'))}), path)
  return [(':3', 'missing_required:id', 'validate',
           b'{"id":null,"name":"b","amount":"1.0000000000","ts":null}'),
          (':4', 'precision_exceeded:amount', 'validate',
           b'{"id":4,"name":"b","amount":"0.0000000001","ts":null}')]


WRITERS = {'csv': write_csv, 'avro': write_avro, 'parquet': write_parquet}


@pytest.mark.emulator
@pytest.mark.parametrize('fmt', ['csv', 'avro', 'parquet'])
def test_each_format_into_bigquery(tmp_path, bigquery_emulator, bq_client, bq_dataset, fmt):
  path = tmp_path / f'events.{fmt}'
  bad = WRITERS[fmt](path)
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  _, summary = files_to_bigquery.run([
      '--input', str(path), '--input_format', fmt, '--schema', str(schema),
      '--output_table', f'{bq_dataset}.events'], print_summary=False)

  rows = [dict(r) for r in bq_client.query(
      f'SELECT id, name, amount, FORMAT_TIMESTAMP("%FT%TZ", ts) AS ts '
      f'FROM {bq_dataset}.events ORDER BY id').result()]
  good = [{'id': 1, 'name': 'a, "quoted"\nname', 'amount': decimal.Decimal('1.5'),
           'ts': '2026-01-01T00:00:00Z'},
          {'id': 2, 'name': '' if fmt == 'csv' else None, 'amount': None, 'ts': None}]
  if fmt == 'avro':
    good.append({'id': 4, 'name': 'b', 'amount': None, 'ts': '0001-01-01T00:00:00Z'})
  assert rows == good

  dead = [dict(r) for r in bq_client.query(
      f'SELECT * FROM {bq_dataset}.events_error_records').result()]
  got = {d['sourceId']: d for d in dead}
  assert set(got) == {f'{path}{suffix}' for suffix, _, _, _ in bad}
  for suffix, error_type, stage, payload in bad:
    record = got[f'{path}{suffix}']
    assert (record['errorType'], record['stage']) == (error_type, stage)
    assert record['payloadBytes'] == payload
    attrs = {a['key']: a['value'] for a in record['attributes']}
    assert attrs['file'] == str(path) and attrs['format'] == fmt
  assert summary['records_read'] == len(good) + len(bad)
  assert summary['rows_written'] + summary['dead_letters'] == summary['records_read']


def test_csv_options_no_header_delimiter_quote(tmp_path):
  path = tmp_path / 'in.txt'
  path.write_bytes(b"1;'a;b'\n2;'it''s'\n3\n")
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA[:2]))
  out = tmp_path / 'lake' / 'rows'
  _, summary = files_to_bigquery.run([
      '--input', str(path), '--input_format', 'csv', '--csv_header', 'false',
      '--csv_columns', 'id,name', '--csv_delimiter', ';', '--csv_quote_char', "'",
      '--schema', str(schema), '--output_path', str(out), '--output_format', 'jsonl',
      '--load_mode', 'append'], print_summary=False)
  rows = [json.loads(line) for p in tmp_path.glob('lake/rows-*') for line in open(p)]
  assert sorted(rows, key=lambda r: r['id']) == [{'id': 1, 'name': 'a;b'},
                                                 {'id': 2, 'name': "it's"}]
  dead = [json.loads(line) for p in tmp_path.glob('lake/rows_error_records-*')
          for line in open(p)]
  assert [(d['errorType'], d['sourceId']) for d in dead] == [('csv_column_count',
                                                             f'{path}:3')]
  assert base64.b64decode(dead[0]['payloadBytes']) == b'3'
  assert summary['records_read'] == 3


@pytest.mark.parametrize('argv,message', [
    (['--input_format', 'csv', '--csv_header', 'maybe'], '--csv_header'),
    (['--input_format', 'csv', '--csv_header', 'false'], 'csv columns are required'),
    (['--input_format', 'csv', '--csv_delimiter', ';;'], '--csv_delimiter'),
    (['--input_format', 'csv', '--schema', '{nested}', '--output_table', 'ds.t'], 'REQUIRED RECORD column(s) user'),
    (['--output_path', '/tmp/x', '--output_format', 'xml'], '--output_format'),
    (['--output_path', '/tmp/x', '--output_table', 'ds.t'], 'exclusive'),
    (['--output_path', '/tmp/x', '--output_shards', 'two'], '--output_shards'),
    (['--output_table', 'ds.t', '--dead_letter_sink', 'pubsub'],
     '--dead_letter_topic: dead_letter_topic is required'),
    (['--output_table', 'ds.t', '--dead_letter_sink', 'pubsub', '--dead_letter_topic', 't'],
     'projects/PROJECT/topics/TOPIC'),
])
def test_new_option_errors_exit_2_naming_the_option(tmp_path, capsys, argv, message):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  nested = tmp_path / 'nested.json'
  nested.write_text(json.dumps([{'name': 'user', 'type': 'RECORD', 'mode': 'REQUIRED',
                                 'fields': [{'name': 'e', 'type': 'STRING'}]}]))
  argv = [a.replace('{nested}', str(nested)) for a in argv]
  if '--schema' not in argv:
    argv += ['--schema', str(schema)]
  with pytest.raises(SystemExit) as info:
    files_to_bigquery.run(['--input', 'x'] + argv)
  assert info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and message in err[0], err


@pytest.mark.emulator
def test_dead_letters_to_pubsub_from_the_command_line(tmp_path, pubsub_emulator, pubsub_topic):
  import time

  from google.cloud import pubsub_v1
  topic, subscription = pubsub_topic
  path = tmp_path / 'events.csv'
  bad = write_csv(path)
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  _, summary = files_to_bigquery.run([
      '--input', str(path), '--input_format', 'csv', '--schema', str(schema),
      '--output_path', str(tmp_path / 'lake' / 'rows'), '--dead_letter_sink', 'pubsub',
      '--dead_letter_topic', topic, '--load_mode', 'append'], print_summary=False)
  subscriber = pubsub_v1.SubscriberClient()
  messages = []
  deadline = time.monotonic() + 60
  while len(messages) < len(bad) and time.monotonic() < deadline:
    response = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
    messages.extend(m.message for m in response.received_messages)
    if response.received_messages:
      subscriber.acknowledge(subscription=subscription,
                             ack_ids=[m.ack_id for m in response.received_messages])
  got = {m.attributes['sourceId']: m for m in messages}
  assert set(got) == {f'{path}{suffix}' for suffix, _, _, _ in bad}
  for suffix, error_type, stage, payload in bad:
    message = got[f'{path}{suffix}']
    assert message.attributes['errorType'] == error_type
    assert message.attributes['stage'] == stage
    record = json.loads(message.data)
    assert base64.b64decode(record['payloadBytes']) == payload
  assert summary['dead_letters'] == len(bad) and summary['rows_written'] == 2
