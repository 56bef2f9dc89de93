"""Every BigQuery scalar type: accepted values (and their normal form) and rejected ones."""

import pytest

from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy


def check(type_name, value, policy=None, **spec):
  schema = [dict({'name': 'f', 'type': type_name, 'mode': 'NULLABLE'}, **spec)]
  return RecordValidator(schema, policy).validate({'f': value})


GOOD = [
    ('STRING', 'héllo', 'héllo'),
    ('STRING', '', ''),
    ('BYTES', 'aGVsbG8=', 'aGVsbG8='),
    ('BYTES', b'\x00\xff', 'AP8='),
    ('INTEGER', 42, 42),
    ('INT64', -2 ** 63, -2 ** 63),
    ('INT64', 2 ** 63 - 1, 2 ** 63 - 1),
    ('FLOAT', 1.5, 1.5),
    ('FLOAT64', 3, 3.0),
    ('NUMERIC', '123.456', '123.456'),
    ('NUMERIC', 0.1, '0.1'),
    ('NUMERIC', 7, '7'),
    ('NUMERIC', '99999999999999999999999999999.999999999',
     '99999999999999999999999999999.999999999'),
    ('NUMERIC', '1.500000000000', '1.5'),
    ('BIGNUMERIC', '1.' + '1' * 38, '1.' + '1' * 38),
    ('BIGNUMERIC', '-5' + '0' * 37, '-5' + '0' * 37),
    ('BOOLEAN', True, True),
    ('BOOL', False, False),
    ('TIMESTAMP', '2024-02-29T23:59:59.123456Z', '2024-02-29T23:59:59.123456Z'),
    ('TIMESTAMP', '2024-01-01 10:00:00+02:00', '2024-01-01T08:00:00.000000Z'),
    ('TIMESTAMP', '2024-01-01 10:00:00 UTC', '2024-01-01T10:00:00.000000Z'),
    ('TIMESTAMP', '2024-01-01', '2024-01-01T00:00:00.000000Z'),
    ('TIMESTAMP', '2024-01-01T00:00:00.123456789Z', '2024-01-01T00:00:00.123456Z'),
    ('TIMESTAMP', 0, '1970-01-01T00:00:00.000000Z'),
    ('TIMESTAMP', 1700000000.5, '2023-11-14T22:13:20.500000Z'),
    ('TIMESTAMP', '0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000000Z'),
    ('TIMESTAMP', '9999-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.999999Z'),
    ('DATE', '2024-02-29', '2024-02-29'),
    ('DATE', '2024-1-5', '2024-01-05'),
    ('TIME', '23:59:59.999999', '23:59:59.999999'),
    ('TIME', '07:05', '07:05:00.000000'),
    ('DATETIME', '2024-01-01 10:00:00', '2024-01-01T10:00:00.000000'),
    ('DATETIME', '2024-01-01T10:00:00.5', '2024-01-01T10:00:00.500000'),
    ('DATETIME', '2024-01-01', '2024-01-01T00:00:00.000000'),
    ('GEOGRAPHY', 'POINT(13.4 52.5)', 'POINT(13.4 52.5)'),
    ('GEOGRAPHY', 'POLYGON((0 0, 1 0, 1 1, 0 0))', 'POLYGON((0 0, 1 0, 1 1, 0 0))'),
    ('GEOGRAPHY', 'MULTIPOINT((1 2), (3 4))', 'MULTIPOINT((1 2), (3 4))'),
    ('GEOGRAPHY', 'GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))',
     'GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))'),
    ('GEOGRAPHY', 'POINT EMPTY', 'POINT EMPTY'),
    ('JSON', {'a': [1, 'x', None]}, '{"a":[1,"x",null]}'),
    ('JSON', 'just text', '"just text"'),
    ('JSON', 5, '5'),
]


@pytest.mark.parametrize('type_name,value,expected', GOOD)
def test_accepts_and_normalises(type_name, value, expected):
  row, problems = check(type_name, value)
  assert problems == []
  assert row == {'f': expected}


BAD = [
    ('STRING', 5, 'type_mismatch'),
    ('STRING', '\ud800', 'invalid_value'),
    ('BYTES', 'not base64!', 'invalid_value'),
    ('BYTES', 5, 'type_mismatch'),
    ('INT64', '42', 'type_mismatch'),
    ('INT64', 1.5, 'type_mismatch'),
    ('INT64', True, 'type_mismatch'),
    ('INT64', 2 ** 63, 'out_of_range'),
    ('INT64', -2 ** 63 - 1, 'out_of_range'),
    ('INT64', float(2 ** 64), 'out_of_range'),
    ('FLOAT64', 'abc', 'type_mismatch'),
    ('FLOAT64', float('nan'), 'non_finite'),
    ('FLOAT64', float('inf'), 'non_finite'),
    ('FLOAT64', 'Infinity', 'non_finite'),
    ('FLOAT64', False, 'type_mismatch'),
    ('NUMERIC', '1.0123456789', 'precision_exceeded'),
    ('NUMERIC', '1' * 30, 'out_of_range'),
    ('NUMERIC', 'NaN', 'non_finite'),
    ('NUMERIC', 'twelve', 'type_mismatch'),
    ('NUMERIC', [1], 'type_mismatch'),
    ('BIGNUMERIC', '1.' + '1' * 39, 'precision_exceeded'),
    ('BIGNUMERIC', '6' + '0' * 38, 'out_of_range'),
    ('BOOL', 'true', 'type_mismatch'),
    ('BOOL', 1, 'type_mismatch'),
    ('TIMESTAMP', '2024-13-01T00:00:00Z', 'invalid_value'),
    ('TIMESTAMP', '2024-02-30', 'invalid_value'),
    ('TIMESTAMP', 'yesterday', 'invalid_value'),
    ('TIMESTAMP', '10000-01-01T00:00:00Z', 'invalid_value'),
    ('TIMESTAMP', '0001-01-01T00:00:00+01:00', 'out_of_range'),
    ('TIMESTAMP', 1e12, 'out_of_range'),
    ('TIMESTAMP', '2024-01-01T00:00:00+25:00', 'invalid_value'),
    ('DATE', '2023-02-29', 'invalid_value'),
    ('DATE', '0000-01-01', 'invalid_value'),
    ('DATE', '2024-01-01T00:00:00', 'invalid_value'),
    ('DATE', 20240101, 'type_mismatch'),
    ('TIME', '24:00:00', 'invalid_value'),
    ('TIME', '12:60', 'invalid_value'),
    ('DATETIME', '2024-01-01T10:00:00Z', 'invalid_value'),
    ('GEOGRAPHY', 'POINT(200 0)', 'invalid_value'),
    ('GEOGRAPHY', 'POINT(1)', 'invalid_value'),
    ('GEOGRAPHY', 'POLYGON((0 0, 1 0, 1 1))', 'invalid_value'),
    ('GEOGRAPHY', 'CIRCLE(1 2)', 'invalid_value'),
    ('GEOGRAPHY', 'POINT(1 2', 'invalid_value'),
    ('GEOGRAPHY', {'type': 'Point'}, 'type_mismatch'),
    ('JSON', float('nan'), 'non_finite'),
]


@pytest.mark.parametrize('type_name,value,kind', BAD)
def test_rejects_with_stable_kind(type_name, value, kind):
  row, problems = check(type_name, value)
  assert row is None
  assert [p.kind for p in problems] == [kind]
  assert problems[0].error_type == f'{kind}:f'
  assert problems[0].detail  # a human-readable reason


def test_string_max_length_and_bytes_max_length():
  assert check('STRING', 'abcd', maxLength='3')[1][0].kind == 'out_of_range'
  assert check('STRING', 'abc', maxLength='3')[1] == []
  assert check('BYTES', 'AAAA', maxLength='2')[1][0].kind == 'out_of_range'  # 3 bytes


def test_parameterised_numeric():
  assert check('NUMERIC', '123.45', precision='5', scale='2')[0] == {'f': '123.45'}
  assert check('NUMERIC', '1234.5', precision='5', scale='2')[1][0].kind == 'out_of_range'
  assert check('NUMERIC', '1.234', precision='5', scale='2')[1][0].kind == 'precision_exceeded'


@pytest.mark.parametrize('type_name,text,expected', [
    ('INT64', '42', 42), ('INT64', ' -7 ', -7), ('INT64', '0x1F', 31), ('INT64', 42.0, 42),
    ('FLOAT64', '1.5', 1.5), ('BOOL', 'TRUE', True), ('BOOL', '0', False), ('BOOL', 1, True),
    ('STRING', 42, '42'), ('STRING', True, 'true'), ('STRING', 1.5, '1.5'),
])
def test_coercion_when_enabled(type_name, text, expected):
  row, problems = check(type_name, text, ValidationPolicy(coerce_types=True))
  assert problems == []
  assert row == {'f': expected}


def test_coercion_still_rejects_garbage():
  policy = ValidationPolicy(coerce_types=True)
  assert check('INT64', '4 2', policy)[1][0].kind == 'type_mismatch'
  assert check('INT64', '99999999999999999999', policy)[1][0].kind == 'out_of_range'
  assert check('BOOL', 'maybe', policy)[1][0].kind == 'type_mismatch'


@pytest.mark.parametrize('policy,expected', [
    ('allow', {'f': 'NaN'}), ('null', {'f': None}),
])
def test_non_finite_policies(policy, expected):
  row, problems = check('FLOAT64', float('nan'), ValidationPolicy(non_finite_floats=policy))
  assert problems == []
  assert row == expected
  row, _ = check('FLOAT64', float('-inf'), ValidationPolicy(non_finite_floats='allow'))
  assert row == {'f': '-Infinity'}


def test_text_input_parses_json_text_and_treats_empty_as_null():
  policy = ValidationPolicy(text_input=True)
  assert check('JSON', '{"a": 1}', policy)[0] == {'f': '{"a":1}'}
  assert check('INT64', '', policy)[0] == {'f': None}
  assert check('STRING', '', policy)[0] == {'f': ''}
  assert check('JSON', '{oops', policy)[1][0].kind == 'invalid_value'


# ---- RANGE and INTERVAL (issue 21) ----------------------------------------------------------

def check_range(element, value, policy=None):
  schema = [{'name': 'f', 'type': 'RANGE', 'rangeElementType': {'type': element}}]
  return RecordValidator(schema, policy).validate({'f': value})


@pytest.mark.parametrize('element,value,expected', [
    ('DATE', {'start': '2024-01-01', 'end': '2024-02-01'},
     {'start': '2024-01-01', 'end': '2024-02-01'}),
    ('DATE', {'start': '2024-1-5'}, {'start': '2024-01-05', 'end': None}),  # missing: unbounded
    ('DATE', '[2024-01-01, 2024-02-01)', {'start': '2024-01-01', 'end': '2024-02-01'}),
    ('DATE', '[UNBOUNDED, 2024-02-01)', {'start': None, 'end': '2024-02-01'}),
    ('DATE', 'RANGE<DATE> [2024-01-01, NULL)', {'start': '2024-01-01', 'end': None}),
    ('DATETIME', {'start': '2024-01-01 10:00:00', 'end': None},
     {'start': '2024-01-01T10:00:00.000000', 'end': None}),
    ('TIMESTAMP', '[2024-01-01T10:00:00+02:00, 2024-01-01T09:00:00Z)',
     {'start': '2024-01-01T08:00:00.000000Z', 'end': '2024-01-01T09:00:00.000000Z'}),
])
def test_range_accepts_the_object_and_the_literal_form(element, value, expected):
  row, problems = check_range(element, value)
  assert problems == []
  assert row == {'f': expected}


@pytest.mark.parametrize('element,value,kind,detail', [
    ('DATE', {'start': '2024-03-01', 'end': '2024-02-01'}, 'invalid_value', 'not before'),
    ('DATE', {'start': '2024-02-01', 'end': '2024-02-01'}, 'invalid_value', 'not before'),
    ('TIMESTAMP', '[2024-01-01T10:00:00+02:00, 2024-01-01T08:00:00Z)', 'invalid_value',
     'not before'),                                  # equal instants once in UTC
    ('DATE', {'from': '2024-01-01'}, 'invalid_value', '"start" and "end"'),
    ('DATE', '[2024-02-30, 2024-03-01)', 'invalid_value', 'range start'),
    ('DATE', {'start': '2024-01-01', 'end': 20240201}, 'type_mismatch', 'range end'),
    ('DATE', '2024-01-01/2024-02-01', 'invalid_value', 'RANGE<DATE>'),
    ('DATE', 'RANGE<TIMESTAMP> [2024-01-01, 2024-02-01)', 'type_mismatch', 'RANGE<TIMESTAMP>'),
    ('DATE', ['2024-01-01', '2024-02-01'], 'type_mismatch', 'RANGE'),
    ('DATETIME', {'start': '2024-01-01T00:00:00Z'}, 'invalid_value', 'range start'),
])
def test_range_rejects_with_a_reason(element, value, kind, detail):
  row, problems = check_range(element, value)
  assert row is None
  assert [p.kind for p in problems] == [kind]
  assert detail in problems[0].detail


def test_range_in_csv_text_takes_the_literal_and_the_object_text():
  policy = ValidationPolicy(text_input=True)
  assert check_range('DATE', '[2024-01-01, UNBOUNDED)', policy)[0] == {
      'f': {'start': '2024-01-01', 'end': None}}
  assert check_range('DATE', '{"start": "2024-01-01", "end": "2025-01-01"}', policy)[0] == {
      'f': {'start': '2024-01-01', 'end': '2025-01-01'}}
  assert check_range('DATE', '', policy)[0] == {'f': None}


@pytest.mark.parametrize('value,expected', [
    ('1-2 3 4:5:6.789', '1-2 3 4:5:6.789'),
    ('0-13 370 48:61:61', '1-1 370 49:2:1'),        # parts not normalised on input
    ('-1-2 -3 -4:5:6', '-1-2 -3 -4:5:6'),
    ('0-0 0 0:0:0.1234567', '0-0 0 0:0:0.123456'),  # past microseconds: truncated (choice)
    ('P1Y2M3DT4H5M6.789S', '1-2 3 4:5:6.789'),      # ISO 8601
    ('P2W', '0-0 14 0:0:0'),
    ('-P1D', '0-0 -1 0:0:0'),
    ('PT-1.5S', '0-0 0 -0:0:1.5'),
    ('10000-0 3660000 87840000:0:0', '10000-0 3660000 87840000:0:0'),  # the limits
])
def test_interval_accepts_canonical_and_iso_8601(value, expected):
  assert check('INTERVAL', value) == ({'f': expected}, [])


@pytest.mark.parametrize('value,kind', [
    ('10000-1 0 0:0:0', 'out_of_range'),
    ('0-0 3660001 0:0:0', 'out_of_range'),
    ('0-0 0 87840000:0:1', 'out_of_range'),
    ('1 day', 'invalid_value'),
    ('P', 'invalid_value'),
    ('PT', 'invalid_value'),
    ('1-2 3', 'invalid_value'),
    (3600, 'type_mismatch'),
])
def test_interval_rejects(value, kind):
  row, problems = check('INTERVAL', value)
  assert row is None and [p.kind for p in problems] == [kind]


@pytest.mark.parametrize('field,message', [
    ({'name': 'r', 'type': 'RANGE'}, 'needs "rangeElementType"'),
    ({'name': 'r', 'type': 'RANGE', 'rangeElementType': {'type': 'TIME'}}, 'needs'),
    ({'name': 'r', 'type': 'DATE', 'rangeElementType': {'type': 'DATE'}},
     'cannot have a rangeElementType'),
])
def test_range_schema_errors_name_the_field(field, message):
  with pytest.raises(ValueError, match=message):
    RecordValidator([field])


def test_range_schema_round_trips_to_bigquery_json():
  from beam_pipelines.transforms.core.schema import load_schema
  fields = [{'name': 'r', 'type': 'RANGE', 'mode': 'NULLABLE',
             'rangeElementType': {'type': 'TIMESTAMP'}},
            {'name': 'i', 'type': 'INTERVAL', 'mode': 'REQUIRED'}]
  assert load_schema(fields).to_json() == {'fields': fields}
  # A copy turned into another type (as masking does) loses the element type.
  import dataclasses
  spec = load_schema(fields).fields[0]
  assert 'rangeElementType' not in dataclasses.replace(spec, type='STRING').to_json()


def test_range_schema_as_bigquery_returns_it():
  """``tables.get`` (bqemulator here) returns the element type with a name and a mode; a
  schema read back from a table (schema drift's evolve mode does) keeps the element type."""
  from beam_pipelines.transforms.core.schema import load_schema
  schema = load_schema([{'name': 'r', 'type': 'RANGE', 'mode': 'NULLABLE', 'rangeElementType': {
      'name': 'r__range_element', 'type': 'DATE', 'mode': 'NULLABLE'}}])
  assert schema.fields[0].range_element_type == 'DATE'
