"""RANGE and INTERVAL columns through the stages after validation: masking (rows and dead
letters), the lake files (Avro, Parquet), aggregates and generalize (a clear error at
construction where a stage has no meaning for them)."""

import io

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beam_pipelines.transforms.masking import MaskingKey
from beam_pipelines.transforms.masking.binding import bind_policy, masked_schema
from beam_pipelines.transforms.masking.keys import DerivedKeys
from beam_pipelines.transforms.masking.maskers import compile_lenient_masker, compile_row_masker
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.validate.validator import RecordValidator
from beam_pipelines.transforms.windowing.aggregates import AggregateConfig, aggregate_schema
from beam_pipelines.transforms.write.lake_types import arrow_schema, avro_schema, row_converter

SCHEMA = [
    {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'stay', 'type': 'RANGE', 'rangeElementType': {'type': 'DATE'}},
    {'name': 'slot', 'type': 'RANGE', 'mode': 'REQUIRED', 'rangeElementType': {'type': 'TIMESTAMP'}},
    {'name': 'local', 'type': 'RANGE', 'rangeElementType': {'type': 'DATETIME'}},
    {'name': 'wait', 'type': 'INTERVAL'},
]
INPUTS = [
    {'id': 'a', 'stay': '[2024-01-01, 2024-01-08)', 'slot': {'start': '2024-01-01T10:00:00Z',
     'end': '2024-01-01T11:00:00.5Z'}, 'local': {'start': '2024-01-01 10:00:00'},
     'wait': 'P1DT2H'},
    {'id': 'b', 'slot': '[UNBOUNDED, UNBOUNDED)', 'wait': '-0-1 0 0:0:0.000001'},
]
KEYS = DerivedKeys(MaskingKey('env:X', b'test-key-0123456789abcdef'))


def validated():
  validator = RecordValidator(SCHEMA)
  rows = []
  for record in INPUTS:
    row, problems = validator.validate(record)
    assert problems == []
    rows.append(row)
  return rows


def test_lake_avro_and_parquet_hold_the_values_typed():
  rows = validated()
  buffer = io.BytesIO()
  fastavro.writer(buffer, fastavro.parse_schema(avro_schema(SCHEMA)),
                  [row_converter(SCHEMA, 'avro')(r) for r in rows])
  buffer.seek(0)
  avro_rows = list(fastavro.reader(buffer))
  table = pa.Table.from_pylist([row_converter(SCHEMA, 'parquet')(r) for r in rows],
                               schema=arrow_schema(SCHEMA))
  buffer = io.BytesIO()
  pq.write_table(table, buffer)
  parquet_rows = pq.read_table(io.BytesIO(buffer.getvalue())).to_pylist()
  for got in (avro_rows, parquet_rows):
    assert [r['id'] for r in got] == ['a', 'b']
    assert got[0]['stay']['start'].isoformat() == '2024-01-01'
    assert got[0]['stay']['end'].isoformat() == '2024-01-08'
    assert got[0]['slot']['end'].isoformat() == '2024-01-01T11:00:00.500000+00:00'
    assert got[0]['local']['end'] is None
    assert got[0]['wait'] == '0-0 1 2:0:0' and got[1]['wait'] == '-0-1 0 0:0:0.000001'
    assert got[1]['slot'] == {'start': None, 'end': None} and got[1]['stay'] is None
  assert pq.read_table(io.BytesIO(buffer.getvalue())).schema.field('slot').type == pa.struct(
      [pa.field('start', pa.timestamp('us', tz='UTC')),
       pa.field('end', pa.timestamp('us', tz='UTC'))])


def test_masking_rows_hmac_a_range_keep_an_interval():
  policy = {'version': 1, 'default': 'keep', 'fields': {'slot': 'hmac', 'stay': 'drop'}}
  rows = validated()
  masked = [compile_row_masker(bind_policy(policy, SCHEMA), KEYS)(r) for r in rows]
  assert all(set(m) == {'id', 'slot', 'local', 'wait'} or set(m) == {'id', 'slot', 'wait'}
             for m in masked)
  assert masked[0]['slot'].startswith(KEYS.key_id + ':') and masked[0]['slot'] != masked[1]['slot']
  assert masked[0]['wait'] == rows[0]['wait']
  out = {f.name: f.to_json() for f in masked_schema(SCHEMA, policy).fields}
  assert out['slot']['type'] == 'STRING' and 'rangeElementType' not in out['slot']
  assert out['local']['rangeElementType'] == {'type': 'DATETIME'}


def test_dead_letter_masking_keeps_a_valid_range_and_redacts_an_invalid_one():
  policy = {'version': 1, 'default': 'drop', 'fields': {'id': 'keep', 'stay': 'keep',
                                                          'slot': 'keep'}}
  mask = compile_lenient_masker(bind_policy(policy, SCHEMA), KEYS)
  out = mask({'id': 'x', 'stay': {'start': '2024-01-01', 'end': '2024-02-01'},
              'slot': {'start': 'jane@example.com'}, 'wait': '1-0 0 0:0:0'})
  assert out == {'id': 'x', 'stay': {'start': '2024-01-01', 'end': '2024-02-01'},
                 'slot': '[REDACTED]'}


def test_generalize_and_min_max_refuse_the_new_types_at_construction():
  with pytest.raises(ValueError, match='generalize does not apply to RANGE'):
    bind_policy({'version': 1, 'default': 'keep',
                 'fields': {'stay': {'method': 'generalize', 'to': 'month'}}}, SCHEMA)
  with pytest.raises(ValueError, match="min_fields: 'wait' has no order"):
    AggregateConfig(min_fields=('wait',)).check_against(load_schema(SCHEMA))
  schema = aggregate_schema(load_schema(SCHEMA),
                            AggregateConfig(key_fields=('stay',), distinct_fields=('wait',)))
  assert [f.name for f in schema.fields][0] == 'stay'
