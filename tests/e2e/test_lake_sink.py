"""files_to_bigquery --output_path: validated rows as JSONL/Avro/Parquet files, typed from the
BigQuery schema; dead letters next to them by default. No emulator needed."""

import datetime
import decimal
import glob
import json
import math

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.loads import committed_files

UTC = datetime.timezone.utc
SCHEMA = [
    {'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'}, {'name': 's', 'type': 'STRING'},
    {'name': 'b', 'type': 'BYTES'}, {'name': 'f', 'type': 'FLOAT64'},
    {'name': 'n', 'type': 'NUMERIC'}, {'name': 'bn', 'type': 'BIGNUMERIC'},
    {'name': 'bo', 'type': 'BOOL'}, {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'd', 'type': 'DATE'}, {'name': 't', 'type': 'TIME'},
    {'name': 'dt', 'type': 'DATETIME'}, {'name': 'g', 'type': 'GEOGRAPHY'},
    {'name': 'j', 'type': 'JSON'}, {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'},
    {'name': 'u', 'type': 'RECORD', 'fields': [
        {'name': 'e', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'xs', 'type': 'INT64', 'mode': 'REPEATED'}]},
]
FULL = {'id': 1, 's': 'x', 'b': 'AAE=', 'f': 'NaN', 'n': '1.5',
        'bn': '123456789012345678901234567890123456789.12345678901234567890123456789012345678',
        'bo': True, 'ts': '2026-01-02T03:04:05.123456+00:00', 'd': '2026-01-02',
        't': '03:04:05.000001', 'dt': '2026-01-02 03:04:05', 'g': 'POINT(1 2)',
        'j': {'a': [1]}, 'tags': ['a', 'b'], 'u': {'e': 'e@x', 'xs': [1, 2]}}
BAD = [b'{"id": "nope"}', b'not json']


def write_inputs(tmp_path):
  data = tmp_path / 'in.jsonl'
  data.write_bytes(b'\n'.join([json.dumps(FULL).encode(), b'{"id": 2}'] + BAD) + b'\n')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return str(data), str(schema)


def run_lake(tmp_path, fmt, extra=()):
  """Runs into a lake at ``<tmp>/lake/events``: (prefix, its committed rows files, summary);
  with ``--load_mode append`` in ``extra``, the files named by the prefix instead."""
  data, schema = write_inputs(tmp_path)
  prefix = str(tmp_path / 'lake' / 'events')
  _, summary = files_to_bigquery.run([
      '--input', data, '--schema', schema, '--output_path', prefix,
      '--output_format', fmt, '--non_finite_floats', 'allow', *extra], print_summary=False)
  files = glob.glob(prefix + '-*') if 'append' in extra else committed_files(prefix)
  return prefix, files, summary


def check_dead_letters_next_to_the_files(prefix, summary):
  dead_files = committed_files(prefix, 'dead_letters') or glob.glob(
      prefix + '_error_records-*.jsonl')  # --load_mode append
  assert all(f.startswith(prefix + '_error_records') for f in dead_files)
  assert len(dead_files) == 1
  with open(dead_files[0], encoding='utf-8') as f:
    dead = [json.loads(line) for line in f]
  assert sorted(d['payloadString'].encode() for d in dead) == sorted(BAD)
  assert {d['errorType'] for d in dead} == {'type_mismatch:id', 'invalid_json'}
  assert summary['records_read'] == 4
  assert summary['rows_written'] == 2 and summary['dead_letters'] == 2


def test_parquet_files_are_typed_from_the_schema(tmp_path):
  prefix, files, summary = run_lake(tmp_path, 'parquet')
  assert len(files) == 1 and files[0].endswith('.parquet')
  table = pq.read_table(files[0])
  types = {f.name: f.type for f in table.schema}
  assert types['id'] == pa.int64() and not table.schema.field('id').nullable
  assert types['n'] == pa.decimal128(38, 9)
  assert types['bn'] == pa.string()
  assert types['ts'] == pa.timestamp('us', tz='UTC')
  assert types['d'] == pa.date32() and types['t'] == pa.time64('us')
  assert types['dt'] == pa.timestamp('us') and types['b'] == pa.binary()
  assert types['tags'] == pa.list_(pa.string())
  rows = sorted(table.to_pylist(), key=lambda r: r['id'])
  full = rows[0]
  assert full['n'] == decimal.Decimal('1.5') and full['bn'] == FULL['bn']
  assert full['ts'] == datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
  assert full['d'] == datetime.date(2026, 1, 2) and full['t'] == datetime.time(3, 4, 5, 1)
  assert full['dt'] == datetime.datetime(2026, 1, 2, 3, 4, 5)
  assert full['b'] == b'\x00\x01' and math.isnan(full['f'])
  assert full['j'] == '{"a":[1]}' and full['g'] == 'POINT(1 2)'
  assert full['u'] == {'e': 'e@x', 'xs': [1, 2]} and full['tags'] == ['a', 'b']
  assert rows[1] == {'id': 2, 's': None, 'b': None, 'f': None, 'n': None, 'bn': None,
                     'bo': None, 'ts': None, 'd': None, 't': None, 'dt': None, 'g': None,
                     'j': None, 'tags': [], 'u': None}
  check_dead_letters_next_to_the_files(prefix, summary)


def test_avro_files_are_typed_from_the_schema(tmp_path):
  prefix, files, summary = run_lake(tmp_path, 'avro')
  assert len(files) == 1 and files[0].endswith('.avro')
  with open(files[0], 'rb') as f:
    reader = fastavro.reader(f)
    fields = {x['name']: x['type'] for x in reader.writer_schema['fields']}
    rows = sorted(reader, key=lambda r: r['id'])
  assert fields['id'] == 'long'
  assert fields['ts'] == ['null', {'type': 'long', 'logicalType': 'timestamp-micros'}]
  assert fields['n'][1]['logicalType'] == 'decimal' and fields['n'][1]['scale'] == 9
  assert fields['dt'][1] == {'type': 'string', 'logicalType': 'datetime'}
  full = rows[0]
  assert full['n'] == decimal.Decimal('1.500000000')
  assert full['bn'] == decimal.Decimal(FULL['bn'])
  assert full['ts'] == datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
  assert full['d'] == datetime.date(2026, 1, 2) and full['t'] == datetime.time(3, 4, 5, 1)
  assert full['dt'] == '2026-01-02T03:04:05.000000' and full['b'] == b'\x00\x01'
  assert full['u'] == {'e': 'e@x', 'xs': [1, 2]}
  assert rows[1]['tags'] == [] and rows[1]['u'] is None
  check_dead_letters_next_to_the_files(prefix, summary)


def test_jsonl_files_hold_bigquery_json_rows(tmp_path):
  prefix, files, summary = run_lake(tmp_path, 'jsonl', ['--output_shards', '1',
                                                        '--load_mode', 'append'])
  assert len(files) == 1 and files[0].endswith('-00000-of-00001.jsonl')
  with open(files[0], encoding='utf-8') as f:
    rows = sorted((json.loads(line) for line in f), key=lambda r: r['id'])
  assert rows[0]['ts'] == '2026-01-02T03:04:05.123456Z' and rows[0]['j'] == '{"a":[1]}'
  assert rows[1] == {'id': 2, 'tags': []}
  check_dead_letters_next_to_the_files(prefix, summary)


def test_avro_rejects_column_names_it_cannot_hold(tmp_path, capsys):
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps([{'name': 'my-col', 'type': 'STRING'}]))
  with pytest.raises(SystemExit) as info:
    files_to_bigquery.run(['--input', 'x', '--schema', str(schema), '--output_path',
                           str(tmp_path / 'o'), '--output_format', 'avro'])
  assert info.value.code == 2
  assert "--output_format: column 'my-col' is not a valid Avro field name" in (
      capsys.readouterr().err)


def lake_rows_as_json(tmp_path, name, input_path, input_format, schema, extra=()):
  prefix = str(tmp_path / name / 'rows')
  files_to_bigquery.run([
      '--input', input_path, '--input_format', input_format, '--schema', schema,
      '--output_path', prefix, '--output_format', 'jsonl', '--non_finite_floats', 'allow',
      *extra], print_summary=False)
  # An absent NULLABLE column and an explicit null are the same row.
  rows = [{k: v for k, v in json.loads(line).items() if v is not None}
          for p in committed_files(prefix) for line in open(p)]
  for row in rows:  # the same decimal may be written with more trailing zeros
    for key in ('n', 'bn'):
      if row.get(key) is not None:
        row[key] = str(decimal.Decimal(row[key]).normalize())
  return sorted(rows, key=lambda r: r['id'])


@pytest.mark.parametrize('fmt', ['avro', 'parquet'])
def test_lake_files_read_back_to_the_same_rows(tmp_path, fmt):
  """Rows -> lake files -> files_to_bigquery --input_format <fmt> -> the same rows: the type
  mapping loses nothing in either direction (JSON columns included)."""
  data, schema = write_inputs(tmp_path)
  direct = lake_rows_as_json(tmp_path, 'direct', data, 'jsonl', schema)
  prefix = str(tmp_path / 'lake' / 'events')
  files_to_bigquery.run(['--input', data, '--schema', schema, '--output_path', prefix,
                         '--output_format', fmt, '--non_finite_floats', 'allow'],
                        print_summary=False)
  again = lake_rows_as_json(tmp_path, 'again', prefix + f'/run=*/*.{fmt}', fmt, schema)
  assert len(direct) == 2 and direct[0]['j'] == '{"a":[1]}'
  assert again == direct
