"""Debezium / Kafka Connect values decoded into BigQuery JSON values: with the envelope's field
schema (exact), and without it by the configured modes (or a dead letter, never a guess)."""

import pytest

from beam_pipelines.transforms.cdc import DECIMAL_MODES, TEMPORAL_MODES, ChangeError, ValueModes
from beam_pipelines.transforms.cdc.formats.connect_types import (decode_decimal, decode_plain,
                                                                 decode_struct)
from beam_pipelines.transforms.validate import load_schema

from cdc_events import decimal_b64

FIELDS = load_schema([
    {'name': 'd', 'type': 'DATE'}, {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'dt', 'type': 'DATETIME'}, {'name': 't', 'type': 'TIME'},
    {'name': 'n', 'type': 'NUMERIC', 'precision': '10', 'scale': '2'},
    {'name': 'big', 'type': 'BIGNUMERIC'}, {'name': 'f', 'type': 'FLOAT64'},
    {'name': 'j', 'type': 'JSON'}, {'name': 'i', 'type': 'INT64'},
    {'name': 'tags', 'type': 'DATE', 'mode': 'REPEATED'},
]).fields


def struct(**fields):
  return {'type': 'struct', 'fields': [dict(schema, field=name)
                                       for name, schema in fields.items()]}


def one(name, value, schema):
  return decode_struct({name: value}, struct(**{name: schema}), FIELDS, None)[name]


def modes(temporal='reject', decimal='reject'):
  return (ValueModes.parse(temporal, TEMPORAL_MODES, 'temporal_mode'),
          ValueModes.parse(decimal, DECIMAL_MODES, 'decimal_mode'))


@pytest.mark.parametrize('column,value,schema,expected', [
    ('d', 19000, {'type': 'int32', 'name': 'io.debezium.time.Date'}, '2022-01-08'),
    ('d', -1, {'type': 'int32', 'name': 'org.apache.kafka.connect.data.Date'}, '1969-12-31'),
    ('ts', 1_700_000_000_123, {'type': 'int64', 'name': 'io.debezium.time.Timestamp'},
     '2023-11-14T22:13:20.123000Z'),
    ('ts', 1_700_000_000_123_456, {'type': 'int64', 'name': 'io.debezium.time.MicroTimestamp'},
     '2023-11-14T22:13:20.123456Z'),
    ('ts', 1_700_000_000_123_456_789,
     {'type': 'int64', 'name': 'io.debezium.time.NanoTimestamp'},
     '2023-11-14T22:13:20.123456Z'),
    ('dt', 1_700_000_000_123, {'type': 'int64', 'name': 'io.debezium.time.Timestamp'},
     '2023-11-14T22:13:20.123000'),
    ('dt', '2023-11-14T23:13:20.5+01:00',
     {'type': 'string', 'name': 'io.debezium.time.ZonedTimestamp'},
     '2023-11-14T22:13:20.500000'),
    ('ts', '2023-11-14T23:13:20.5+01:00',
     {'type': 'string', 'name': 'io.debezium.time.ZonedTimestamp'},
     '2023-11-14T23:13:20.5+01:00'),  # the TIMESTAMP converter reads the offset itself
    ('t', 3_723_004, {'type': 'int32', 'name': 'io.debezium.time.Time'}, '01:02:03.004000'),
    ('t', 3_723_000_005, {'type': 'int64', 'name': 'io.debezium.time.MicroTime'},
     '01:02:03.000005'),
    ('t', '01:02:03.25Z', {'type': 'string', 'name': 'io.debezium.time.ZonedTime'},
     '01:02:03.25'),
    ('n', decimal_b64(12345), {'type': 'bytes', 'name': 'org.apache.kafka.connect.data.Decimal',
                               'parameters': {'scale': '2'}}, '123.45'),
    ('n', decimal_b64(-12345), {'type': 'bytes',
                                'name': 'org.apache.kafka.connect.data.Decimal',
                                'parameters': {'scale': '2'}}, '-123.45'),
    ('f', decimal_b64(-5), {'type': 'bytes', 'name': 'org.apache.kafka.connect.data.Decimal',
                            'parameters': {'scale': '1'}}, -0.5),
    ('big', {'scale': 3, 'value': decimal_b64(10 ** 30 + 7)},
     {'type': 'struct', 'name': 'io.debezium.data.VariableScaleDecimal'},
     '1000000000000000000000000000.007'),
    ('j', '{"a": [1, 2]}', {'type': 'string', 'name': 'io.debezium.data.Json'}, {'a': [1, 2]}),
    ('i', 19000, {'type': 'int32', 'name': 'io.debezium.time.Date'}, 19000),
    ('tags', [1, 2], {'type': 'array', 'items': {'type': 'int32',
                                                 'name': 'io.debezium.time.Date'}},
     ['1970-01-02', '1970-01-03']),
])
def test_semantic_types_become_the_columns_bigquery_form(column, value, schema, expected):
  assert one(column, value, schema) == expected


def test_decimal_decoding_is_exact_for_long_values():
  unscaled = -(10 ** 37) + 1
  assert decode_decimal(decimal_b64(unscaled), 10, 'x') == '-999999999999999999999999999.9999999999'


@pytest.mark.parametrize('column,value,schema,error_type', [
    ('n', 'not base64!', {'type': 'bytes', 'name': 'org.apache.kafka.connect.data.Decimal',
                          'parameters': {'scale': '2'}}, 'cdc_undecodable:n'),
    ('n', decimal_b64(5), {'type': 'bytes', 'name': 'org.apache.kafka.connect.data.Decimal'},
     'cdc_undecodable:n'),  # no scale anywhere: never a guessed number
    ('big', {'value': decimal_b64(5)},
     {'type': 'struct', 'name': 'io.debezium.data.VariableScaleDecimal'}, 'cdc_undecodable:big'),
    ('t', 90_000_000, {'type': 'int32', 'name': 'io.debezium.time.Time'}, 'cdc_undecodable:t'),
    ('ts', 10 ** 18, {'type': 'int64', 'name': 'io.debezium.time.Timestamp'},
     'cdc_undecodable:ts'),
    ('j', '{broken', {'type': 'string', 'name': 'io.debezium.data.Json'}, 'cdc_undecodable:j'),
])
def test_values_that_cannot_be_decoded_are_errors_naming_the_column(column, value, schema,
                                                                     error_type):
  with pytest.raises(ChangeError) as caught:
    one(column, value, schema)
  assert caught.value.error_type == error_type and caught.value.stage == 'validate'
  assert column in caught.value.detail


def test_without_a_schema_integer_times_need_a_mode():
  with pytest.raises(ChangeError) as caught:
    decode_plain({'ts': 1_700_000_000_000}, FIELDS, modes())
  assert caught.value.error_type == 'cdc_undecodable:ts'
  assert '--cdc_temporal_mode' in caught.value.detail
  assert decode_plain({'ts': 1_700_000_000_000}, FIELDS, modes('millis'))['ts'] == \
      '2023-11-14T22:13:20.000000Z'
  assert decode_plain({'ts': 1_700_000_000_000_000}, FIELDS, modes('micros'))['ts'] == \
      '2023-11-14T22:13:20.000000Z'
  assert decode_plain({'t': 3_723_000_000_000}, FIELDS, modes('nanos'))['t'] == \
      '01:02:03.000000'


def test_per_column_modes_override_the_default():
  chosen = modes('millis,dt=micros')
  out = decode_plain({'ts': 1_000, 'dt': 1_000}, FIELDS, chosen)
  assert out == {'ts': '1970-01-01T00:00:01.000000Z', 'dt': '1970-01-01T00:00:00.001000'}


def test_an_integer_date_is_days_in_every_mode_and_strings_pass():
  out = decode_plain({'d': 1, 'ts': '2024-01-01T00:00:00Z'}, FIELDS, modes())
  assert out == {'d': '1970-01-02', 'ts': '2024-01-01T00:00:00Z'}


def test_without_a_schema_text_decimals_need_a_mode_and_precise_needs_a_scale():
  with pytest.raises(ChangeError) as caught:
    decode_plain({'n': 'MDk='}, FIELDS, modes())
  assert '--cdc_decimal_mode' in caught.value.detail
  assert decode_plain({'n': decimal_b64(12345)}, FIELDS, modes(decimal='precise'))['n'] == \
      '123.45'  # the scale declared on the column: NUMERIC(10, 2)
  with pytest.raises(ChangeError) as caught:
    decode_plain({'big': decimal_b64(1)}, FIELDS, modes(decimal='precise'))
  assert caught.value.error_type == 'cdc_undecodable:big' and 'scale' in caught.value.detail
  assert decode_plain({'n': '1234'}, FIELDS, modes(decimal='string'))['n'] == '1234'
  # Numbers and VariableScaleDecimal structs are unambiguous in every mode.
  assert decode_plain({'n': 12.5, 'big': {'scale': 1, 'value': decimal_b64(5)}}, FIELDS,
                      modes()) == {'n': 12.5, 'big': '0.5'}


def test_value_modes_reject_unknown_modes_naming_the_option():
  with pytest.raises(ValueError, match='cdc_temporal_mode must be one of'):
    ValueModes.parse('seconds', TEMPORAL_MODES, 'cdc_temporal_mode')
  with pytest.raises(ValueError, match='names no column'):
    ValueModes.parse('=micros', TEMPORAL_MODES, 'cdc_temporal_mode')
