"""Avro and Parquet files, and Avro binary payloads: every BigQuery type, good and bad,
corrupt and truncated files."""

import base64
import datetime
import decimal
import io
import json
import uuid

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from formats_helpers import attributes, by_source, run_chain

from beam_pipelines.transforms.read.formats import make_decoder
from beam_pipelines.transforms.core.messages import raw_message
from beam_pipelines.transforms.read.files import FileSourceConfig
from beam_pipelines.transforms.validate.parse import ParseConfig

UTC = datetime.timezone.utc
SCHEMA = [
    {'name': 's', 'type': 'STRING'}, {'name': 'b', 'type': 'BYTES'},
    {'name': 'i', 'type': 'INT64'}, {'name': 'f', 'type': 'FLOAT64'},
    {'name': 'n', 'type': 'NUMERIC'}, {'name': 'bn', 'type': 'BIGNUMERIC'},
    {'name': 'bo', 'type': 'BOOL'}, {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'd', 'type': 'DATE'}, {'name': 't', 'type': 'TIME'},
    {'name': 'dt', 'type': 'DATETIME'}, {'name': 'g', 'type': 'GEOGRAPHY'},
    {'name': 'j', 'type': 'JSON'}, {'name': 'req', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'},
    {'name': 'm', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
        {'name': 'key', 'type': 'STRING'}, {'name': 'value', 'type': 'INT64'}]},
    {'name': 'rec', 'type': 'RECORD', 'fields': [
        {'name': 'a', 'type': 'INT64'},
        {'name': 'inner', 'type': 'RECORD', 'fields': [
            {'name': 'z', 'type': 'STRING', 'mode': 'REQUIRED'}]}]},
]


def avro_schema(i_type='long'):
  def opt(t):
    return ['null', t]
  return fastavro.parse_schema({'type': 'record', 'name': 'Event', 'fields': [
      {'name': 's', 'type': opt('string')}, {'name': 'b', 'type': opt('bytes')},
      {'name': 'i', 'type': opt(i_type)}, {'name': 'f', 'type': opt('double')},
      {'name': 'n', 'type': opt({'type': 'bytes', 'logicalType': 'decimal',
                                 'precision': 30, 'scale': 10})},
      {'name': 'bn', 'type': opt({'type': 'bytes', 'logicalType': 'decimal',
                                  'precision': 77, 'scale': 38})},
      {'name': 'bo', 'type': opt('boolean')},
      {'name': 'ts', 'type': opt({'type': 'long', 'logicalType': 'timestamp-micros'})},
      {'name': 'd', 'type': opt({'type': 'int', 'logicalType': 'date'})},
      {'name': 't', 'type': opt({'type': 'long', 'logicalType': 'time-micros'})},
      {'name': 'dt', 'type': opt({'type': 'long', 'logicalType': 'local-timestamp-micros'})},
      {'name': 'g', 'type': opt('string')},
      {'name': 'j', 'type': opt({'type': 'map', 'values': 'long'})},
      {'name': 'req', 'type': opt('long')},
      {'name': 'tags', 'type': {'type': 'array', 'items': 'string'}},
      {'name': 'm', 'type': {'type': 'map', 'values': 'long'}},
      {'name': 'rec', 'type': opt({'type': 'record', 'name': 'Rec', 'fields': [
          {'name': 'a', 'type': opt('long')},
          {'name': 'inner', 'type': opt({'type': 'record', 'name': 'Inner', 'fields': [
              {'name': 'z', 'type': opt('string')}]})}]})},
  ]})


GOOD_RECORD = {
    's': 'héllo', 'b': b'\x00\xff', 'i': -(2 ** 63), 'f': 1.25,
    'n': decimal.Decimal('12.3400000000'), 'bn': decimal.Decimal('-1.5'), 'bo': False,
    'ts': datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    'd': datetime.date(2026, 1, 2), 't': datetime.time(3, 4, 5, 6),
    'dt': datetime.datetime(2026, 1, 2, 3, 4, 5), 'g': 'LINESTRING(0 0, 1 1)',
    'j': {'a': 1}, 'req': 1, 'tags': ['x', 'y'], 'm': {'k1': 1, 'k2': 2},
    'rec': {'a': 5, 'inner': {'z': 'deep'}}}
GOOD_ROW = {
    's': 'héllo', 'b': 'AP8=', 'i': -(2 ** 63), 'f': 1.25, 'n': '12.34', 'bn': '-1.5',
    'bo': False, 'ts': '2026-01-02T03:04:05.123456Z', 'd': '2026-01-02',
    't': '03:04:05.000006', 'dt': '2026-01-02T03:04:05.000000', 'g': 'LINESTRING(0 0, 1 1)',
    'j': '{"a":1}', 'req': 1, 'tags': ['x', 'y'],
    'm': [{'key': 'k1', 'value': 1}, {'key': 'k2', 'value': 2}],
    'rec': {'a': 5, 'inner': {'z': 'deep'}}}


def sparse(**values):
  record = {k: None for k in GOOD_RECORD}
  record.update(tags=[], m={}, req=2)
  record.update(values)
  return record


# (record, errorType) with one bad value each.
AVRO_BAD = [
    (sparse(req=None), 'missing_required:req'),
    (sparse(f=float('nan')), 'non_finite:f'),
    (sparse(f=float('-inf')), 'non_finite:f'),
    (sparse(n=decimal.Decimal('1.0000000001')), 'precision_exceeded:n'),
    (sparse(n=decimal.Decimal('12345678901234567890.5')), None),  # fits NUMERIC: good
    (sparse(g='POINT(1)'), 'invalid_value:g'),
    (sparse(rec={'a': 1, 'inner': {'z': None}}), 'missing_required:rec.inner.z'),
    (sparse(ts=datetime.datetime(1, 1, 1, tzinfo=UTC)), None),
]


def write_avro(path, schema, records, **kwargs):
  with open(path, 'wb') as f:
    fastavro.writer(f, schema, records, **kwargs)


# Avro decimals keep their scale (BIGNUMERIC has room for 38 digits); maps are key/value
# lists, also in a JSON column.
AVRO_ROW = dict(GOOD_ROW, bn='-1.50000000000000000000000000000000000000',
                j='[{"key":"a","value":1}]')


def test_avro_every_type_good_and_bad(tmp_path):
  path = tmp_path / 'a.avro'
  write_avro(path, avro_schema(), [GOOD_RECORD] + [r for r, _ in AVRO_BAD])
  # A second file whose writer schema has i as a string: a type mismatch per record.
  other = tmp_path / 'b.avro'
  write_avro(other, avro_schema('string'), [sparse(i='12')], codec='snappy')
  rows, dead, counters = run_chain(tmp_path / 'out', FileSourceConfig(
      str(tmp_path / '*.avro'), 'avro'), SCHEMA)
  good = [r for r in rows if r['req'] == 1]
  assert good == [AVRO_ROW]
  got = by_source(dead)
  assert len(rows) == 3, {k: (v['errorType'], v['errorMessage']) for k, v in got.items()}
  expected = {f'{path}:{i + 2}': t for i, (_, t) in enumerate(AVRO_BAD) if t}
  expected[f'{other}:1'] = 'type_mismatch:i'
  got = by_source(dead)
  assert {k: v['errorType'] for k, v in got.items()} == expected
  nan = got[f'{path}:3']
  assert json.loads(nan['payloadString'])['f'] == 'NaN'  # readable: JSON of the record
  assert attributes(nan) == {'file': str(path), 'format': 'avro'}
  assert counters[('read', 'records')] == len(rows) + len(dead) == 1 + len(AVRO_BAD) + 1


def test_truncated_and_corrupt_avro_keep_what_was_read(tmp_path):
  schema = fastavro.parse_schema({'type': 'record', 'name': 'R', 'fields': [
      {'name': 'id', 'type': 'long'}, {'name': 'pad', 'type': 'string'}]})
  buf = io.BytesIO()
  fastavro.writer(buf, schema, [{'id': i, 'pad': 'x' * 50} for i in range(30)],
                  sync_interval=200)  # small blocks
  data = buf.getvalue()
  (tmp_path / 'truncated.avro').write_bytes(data[:len(data) // 2])
  corrupt = bytearray(data)
  corrupt[len(data) // 2:len(data) // 2 + 40] = b'\xff' * 40
  (tmp_path / 'corrupt.avro').write_bytes(bytes(corrupt))
  (tmp_path / 'not.avro').write_bytes(b'{"id": 1}\n')
  rows, dead, counters = run_chain(
      tmp_path / 'out', FileSourceConfig(str(tmp_path / '*.avro'), 'avro'),
      [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}])
  got = {d['sourceId'].rsplit('/', 1)[1]: d for d in dead}
  assert {k: (v['errorType'], v['stage']) for k, v in got.items()} == {
      'truncated.avro:13': ('corrupt_avro_block', 'read'),
      'corrupt.avro:14': ('corrupt_avro_block', 'read'),
      'not.avro:1': ('unreadable_file', 'read')}
  assert 'after record 12' in got['truncated.avro:13']['errorMessage']
  assert str(tmp_path / 'truncated.avro') in got['truncated.avro:13']['errorMessage']
  ids = sorted(r['id'] for r in rows)
  assert ids == sorted(list(range(12)) + list(range(13)))  # every record before the damage
  assert counters[('read', 'records')] == len(rows) + len(dead)


def test_avro_binary_payloads_with_a_configured_writer_schema(tmp_path):
  schema = avro_schema()

  def encode(record):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, record)
    return buf.getvalue()
  good = encode(GOOD_RECORD)
  messages = [
      raw_message(good, 'm1', {'origin': 'pubsub'}),
      raw_message(encode(sparse(req=None)), 'm2', {'origin': 'pubsub'}),
      raw_message(good[:len(good) // 2], 'm3', {'origin': 'pubsub'}),
      raw_message(good + b'\x00', 'm4', {'origin': 'pubsub'}),
      raw_message(b'', 'm5'),
  ]
  rows, dead, _ = run_chain(tmp_path / 'out', None, SCHEMA,
                            ParseConfig(format='avro', avro_schema=schema),
                            messages=messages)
  assert rows == [AVRO_ROW]
  got = by_source(dead)
  assert {k: (v['errorType'], v['stage']) for k, v in got.items()} == {
      'm2': ('missing_required:req', 'validate'), 'm3': ('invalid_avro', 'parse'),
      'm4': ('invalid_avro', 'parse'), 'm5': ('empty_record', 'parse')}
  assert 'trailing bytes' in got['m4']['errorMessage']
  assert base64.b64decode(got['m3']['payloadBytes']) == good[:len(good) // 2]
  assert attributes(got['m3']) == {'origin': 'pubsub'}


def test_avro_schema_config_errors(tmp_path):
  with pytest.raises(ValueError, match='avro_schema is required'):
    ParseConfig(format='avro')
  with pytest.raises(ValueError, match='not a valid Avro schema'):
    ParseConfig(format='avro', avro_schema={'type': 'no-such-type'})
  with pytest.raises(ValueError, match='cannot read Avro schema file'):
    ParseConfig(format='avro', avro_schema=str(tmp_path / 'missing.avsc'))
  avsc = tmp_path / 'ok.avsc'
  avsc.write_text(json.dumps({'type': 'record', 'name': 'R',
                              'fields': [{'name': 'id', 'type': 'long'}]}))
  decode = make_decoder(ParseConfig(format='avro', avro_schema=str(avsc)))
  assert decode(b'\x02', {}) == {'id': 1}


def parquet_table(i_type=pa.int64(), n=3):
  rows = {
      's': ['héllo', None, None], 'b': [b'\x00\xff', None, None],
      'i': [-(2 ** 63), None, None], 'f': [1.25, float('inf'), None],
      'n': [decimal.Decimal('12.34'), None, decimal.Decimal('0.0000000001')],
      'bn': [decimal.Decimal('-1.5'), None, None], 'bo': [False, None, None],
      'ts': [1767323045123456789, None, None], 'd': [datetime.date(2026, 1, 2), None, None],
      't': [datetime.time(3, 4, 5, 6), None, None],
      'dt': [datetime.datetime(2026, 1, 2, 3, 4, 5), None, None],
      'g': ['LINESTRING(0 0, 1 1)', None, None], 'j': [{'a': 1}, None, None],
      'req': [1, 2, 3], 'tags': [['x', 'y'], [], None],
      'm': [[('k1', 1), ('k2', 2)], [], None],
      'rec': [{'a': 5, 'inner': {'z': 'deep'}}, None, {'a': None, 'inner': None}],
  }
  types = {
      's': pa.string(), 'b': pa.binary(), 'i': i_type, 'f': pa.float64(),
      'n': pa.decimal128(20, 10), 'bn': pa.decimal256(40, 2), 'bo': pa.bool_(),
      'ts': pa.timestamp('ns', tz='UTC'), 'd': pa.date32(), 't': pa.time64('us'),
      'dt': pa.timestamp('us'), 'g': pa.string(), 'j': pa.struct([('a', pa.int64())]),
      'req': pa.int64(), 'tags': pa.list_(pa.string()), 'm': pa.map_(pa.string(), pa.int64()),
      'rec': pa.struct([('a', pa.int64()), ('inner', pa.struct([('z', pa.string())]))]),
  }
  if i_type != pa.int64():
    rows['i'] = ['12', None, None]
  return pa.table({k: pa.array(v[:n], types[k]) for k, v in rows.items()})


def test_parquet_every_type_good_and_bad(tmp_path):
  path = tmp_path / 'a.parquet'
  pq.write_table(parquet_table(), path)
  other = tmp_path / 'b.parquet'
  pq.write_table(parquet_table(pa.string(), n=1), other)
  rows, dead, counters = run_chain(tmp_path / 'out', FileSourceConfig(
      str(tmp_path / '*.parquet'), 'parquet'), SCHEMA)
  expected_row = dict(GOOD_ROW, bn='-1.50',
                      ts='2026-01-02T03:04:05.123456Z')  # ns truncated to µs
  assert rows == [expected_row]
  got = by_source(dead)
  assert {k: v['errorType'] for k, v in got.items()} == {
      f'{path}:2': 'non_finite:f', f'{path}:3': 'precision_exceeded:n',
      f'{other}:1': 'type_mismatch:i'}
  assert json.loads(got[f'{path}:2']['payloadString'])['f'] == 'Infinity'
  assert attributes(got[f'{other}:1']) == {'file': str(other), 'format': 'parquet'}
  assert counters[('read', 'records')] == 4


def test_corrupt_and_truncated_parquet(tmp_path):
  table = pa.table({'id': list(range(30)), 'pad': ['x' * 50] * 30})
  good = tmp_path / 'src.parquet'
  pq.write_table(table, good, row_group_size=10, write_page_checksum=True,
                 use_dictionary=False, compression='none')
  data = bytearray(good.read_bytes())
  meta = pq.ParquetFile(good).metadata.row_group(2).column(1)
  end = meta.data_page_offset + meta.total_compressed_size
  data[end - 100:end - 50] = b'\x00' * 50  # damage the last row group's page
  (tmp_path / 'corrupt.parquet').write_bytes(bytes(data))
  (tmp_path / 'truncated.parquet').write_bytes(good.read_bytes()[:-100])
  good.unlink()
  rows, dead, counters = run_chain(
      tmp_path / 'out', FileSourceConfig(str(tmp_path / '*.parquet'), 'parquet'),
      [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}])
  got = {d['sourceId'].rsplit('/', 1)[1]: d for d in dead}
  assert {k: v['errorType'] for k, v in got.items()} == {
      'corrupt.parquet:21': 'corrupt_parquet', 'truncated.parquet:1': 'unreadable_file'}
  assert 'checksum' in got['corrupt.parquet:21']['errorMessage'].lower()
  assert 'row group 2 (rows 21 to 30, 10 rows not read)' in (
      got['corrupt.parquet:21']['errorMessage'])
  assert sorted(r['id'] for r in rows) == list(range(20))
  assert counters[('read', 'records')] == len(rows) + len(dead)


def test_uuid_and_unencodable_values_in_record_json():
  from beam_pipelines.transforms.read.formats import record_json
  assert record_json.dumps(record_json.generic({'u': uuid.UUID(int=1), 'x': [(1, 2)]})) == (
      b'{"u":"00000000-0000-0000-0000-000000000001","x":[{"key":1,"value":2}]}')
  with pytest.raises(TypeError):
    record_json.dumps({'d': datetime.timedelta(seconds=1)})
  # A dead letter's payload for such a record: still a JSON object (the policy applies to it)
  assert json.loads(record_json.lenient_dumps(
      {'d': datetime.timedelta(seconds=1), 'b': b'\x00', 1: [(1, 'x')]})) == {
          'd': '0:00:01', 'b': 'AA==', '1': [[1, 'x']]}


@pytest.mark.parametrize('fmt', ['jsonl', 'csv', 'avro', 'parquet'])
def test_gs_patterns_are_not_validated_when_the_pipeline_is_built(fmt):
  import apache_beam as beam

  from beam_pipelines.transforms.read.events import ReadEvents
  p = beam.Pipeline(runner='FnApiRunner')
  read = p | ReadEvents(FileSourceConfig(f'gs://no-such-bucket-xyz/events/*.{fmt}', fmt))
  assert read.rows.pipeline is p
  # Serialising the graph (what a Dataflow submission does) needs no network either; the
  # network guard in conftest fails the test on any non-loopback connection.
  proto = p.to_runner_api()
  assert any('ReadRecords' in t.unique_name for t in proto.components.transforms.values())


def test_avro_json_typed_strings_are_parsed_and_bad_text_is_reported(tmp_path):
  schema = fastavro.parse_schema({'type': 'record', 'name': 'R', 'fields': [
      {'name': 'id', 'type': 'long'},
      {'name': 'j', 'type': ['null', {'type': 'string', 'sqlType': 'JSON'}]}]})
  path = tmp_path / 'j.avro'
  write_avro(path, schema, [{'id': 1, 'j': '{"a": [1, 2]}'}, {'id': 2, 'j': None},
                            {'id': 3, 'j': 'not json'}])
  rows, dead, counters = run_chain(
      tmp_path / 'out', FileSourceConfig(str(path), 'avro'),
      [{'name': 'id', 'type': 'INT64'}, {'name': 'j', 'type': 'JSON'}])
  assert sorted(rows, key=lambda r: r['id']) == [{'id': 1, 'j': '{"a":[1,2]}'},
                                                 {'id': 2, 'j': None}]
  assert [(d['sourceId'], d['errorType'], d['stage']) for d in dead] == [
      (f'{path}:3', 'unencodable_record', 'read')]
  assert 'invalid JSON text' in dead[0]['errorMessage']
  # The payload stays a JSON object (so a masking policy can apply to it), not a repr.
  assert json.loads(dead[0]['payloadString']) == {'id': 3, 'j': 'not json'}
  assert counters[('read', 'records')] == 3


def test_avro_named_namespaced_and_recursive_types_convert():
  from beam_pipelines.transforms.read.formats.record_json import avro_converter, dumps
  schema = fastavro.parse_schema({'type': 'record', 'name': 'E', 'namespace': 'com.acme',
                                  'fields': [
      {'name': 'a', 'type': {'type': 'record', 'name': 'Item',
                             'fields': [{'name': 'x', 'type': 'int'}]}},
      {'name': 'b', 'type': ['null', 'Item']},
      {'name': 'c', 'type': ['null', 'com.acme.Item']},
      {'name': 'm', 'type': ['null', {'type': 'map', 'values': 'Item'}]},
      {'name': 'l', 'type': ['null', {'type': 'record', 'name': 'Node', 'fields': [
          {'name': 'v', 'type': 'int'}, {'name': 'next', 'type': ['null', 'Node']}]}]}]})
  buf = io.BytesIO()
  fastavro.writer(buf, schema, [{'a': {'x': 1}, 'b': {'x': 2}, 'c': {'x': 3},
                                 'm': {'k': {'x': 4}},
                                 'l': {'v': 1, 'next': {'v': 2, 'next': None}}}])
  buf.seek(0)
  reader = fastavro.reader(buf)
  convert = avro_converter(reader.writer_schema)
  assert [json.loads(dumps(convert(r))) for r in reader] == [{
      'a': {'x': 1}, 'b': {'x': 2}, 'c': {'x': 3}, 'm': [{'key': 'k', 'value': {'x': 4}}],
      'l': {'v': 1, 'next': {'v': 2, 'next': None}}}]
