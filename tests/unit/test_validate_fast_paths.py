"""The validation fast paths (issue 8) give exactly what the general code gives."""

import pytest

from beam_pipelines.transforms.validate import bq_temporal, bq_types
from beam_pipelines.transforms.validate.field_error import FieldError
from beam_pipelines.transforms.validate import geography as wkt
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy

POLICY = ValidationPolicy()


def _spec(ftype):
  return load_schema([{'name': 'f', 'type': ftype}]).fields[0]


def _outcome(fn, value, spec):
  try:
    return ('ok', fn(value, spec, POLICY))
  except FieldError as e:
    return ('error', e.kind, e.detail)


@pytest.mark.parametrize('value', [
    '2026-11-01T00:00:03.000Z', '2026-11-01T00:00:03Z', '2026-11-01T23:59:59.1234567Z',
    '2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999Z',
    '2026-11-01T24:00:00Z', '2026-13-01T00:00:00Z'])
def test_canonical_timestamp_matches_the_general_path(value):
  # The general path sees the same instant written with an explicit +00:00 zone.
  fast = _outcome(bq_temporal.to_timestamp, value, _spec('TIMESTAMP'))
  general = _outcome(bq_temporal.to_timestamp, value[:-1] + '+00:00', _spec('TIMESTAMP'))
  assert fast[0] == general[0]
  if fast[0] == 'ok':
    assert fast == general


@pytest.mark.parametrize('value', ['2026-11-01 00:00:03', '2026-11-01T00:00:03.5',
                                   '2026-02-29 00:00:00', '2024-02-29T12:00:00.1234567'])
def test_canonical_datetime_matches_the_general_path(value):
  fast = _outcome(bq_temporal.to_datetime, value, _spec('DATETIME'))
  general = _outcome(bq_temporal.to_datetime, ' ' + value, _spec('DATETIME'))  # not canonical
  assert fast == general


@pytest.mark.parametrize('value', ['112.65', '0', '0.50', '-12.5', '100',
                                   '99999999999999999999999999999.999999999', '-0.00', '007.5',
                                   '1.0000000001', '1e5', '123456789012345678901234567890'])
def test_canonical_numeric_matches_the_general_path(value):
  fast = _outcome(bq_types.to_numeric, value, _spec('NUMERIC'))
  general = _outcome(bq_types.to_numeric, ' ' + value + ' ', _spec('NUMERIC'))
  assert fast == general


@pytest.mark.parametrize('text', ['POINT(1 2)', 'POINT (-180 90)', 'POINT(180.0001 0)',
                                  'POINT(0 -90.5)', 'POINT(1. 2)', 'POINT(1 2) x'])
def test_simple_point_matches_the_parser(text):
  assert wkt.problem(text) == wkt.problem(' ' + text)  # leading space: the general parser


def test_memoised_errors_are_reported_at_every_location():
  validator = RecordValidator([{'name': 'd', 'type': 'DATE', 'mode': 'REPEATED'}])
  _, problems = validator.validate({'d': ['2026-02-30', '2026-01-01', '2026-02-30']})
  assert [p.location for p in problems] == ['d[0]', 'd[2]']
  assert problems[0].detail == problems[1].detail
  row, problems = validator.validate({'d': ['2026-01-01', '2026-1-2']})
  assert row == {'d': ['2026-01-01', '2026-01-02']} and not problems


def test_fast_accept_keeps_the_converters_answers():
  validator = RecordValidator([
      {'name': 's', 'type': 'STRING'}, {'name': 'i', 'type': 'INTEGER'},
      {'name': 'x', 'type': 'FLOAT'}, {'name': 'b', 'type': 'BOOLEAN'}])
  assert validator.validate({'s': 'é', 'i': 2 ** 63 - 1, 'x': 1.5, 'b': False}) == (
      {'s': 'é', 'i': 2 ** 63 - 1, 'x': 1.5, 'b': False}, [])
  _, problems = validator.validate({'s': '\ud800', 'i': True, 'x': float('nan'), 'b': 1})
  assert sorted(p.error_type for p in problems) == [
      'invalid_value:s', 'non_finite:x', 'type_mismatch:b', 'type_mismatch:i']
