"""Schema drift without BigQuery: type inference, new-field detection, validator codes."""

import pytest

from beam_pipelines.transforms.validate.drift_inference import (NotInferable, describe_field, infer_field,
                                                 new_fields)
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.validate.schema_drift import drift_policy
from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy, summarize

SCHEMA = load_schema([
    {'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'user', 'type': 'RECORD', 'fields': [{'name': 'email', 'type': 'STRING'}]},
])


@pytest.mark.parametrize('value,described', [
    (True, 'x BOOL'), (3, 'x INT64'), (2.5, 'x FLOAT64'), ('2026-01-01', 'x STRING'),
    ([1, 2], 'x INT64 REPEATED'), ([1, 2.5], 'x FLOAT64 REPEATED'),
    ({'a': 1, 'b': {'c': 'd'}}, 'x RECORD<a INT64, b RECORD<c STRING>>'),
    ([{'a': 1}, {'b': True}], 'x RECORD<a INT64, b BOOL> REPEATED'),
])
def test_infer_field(value, described):
  assert describe_field(infer_field('x', value)) == described


def test_infer_field_edge_cases():
  assert infer_field('x', None) is None
  assert infer_field('x', []) is None
  assert infer_field('x', [None]) is None
  with pytest.raises(NotInferable):
    infer_field('x', [[1]])
  with pytest.raises(NotInferable):
    infer_field('x', {})


def test_new_fields_top_level_and_nested():
  top, nested = new_fields({'id': 1, 'Extra': 2, 'user': {'email': 'e', 'age': 3}}, SCHEMA)
  assert top == ['Extra'] and nested == ['user.age']
  assert new_fields({'ID': 1, 'USER': {'EMAIL': 'e'}}, SCHEMA) == ([], [])  # case-insensitive


def test_validator_reports_schema_drift_once_and_after_real_problems():
  validator = RecordValidator(SCHEMA, drift_policy(ValidationPolicy(), 'dead_letter'))
  _, problems = validator.validate({'id': 1, 'a': 1, 'b': 2})
  assert summarize(problems)[0] == 'schema_drift'
  assert summarize(problems)[1] == ("<unknown#1>: new field 'a', not in the table schema; "
                                    "<unknown#2>: new field 'b', not in the table schema")
  _, problems = validator.validate({'x': 1, 'id': 'one'})
  assert summarize(problems)[0] == 'type_mismatch:id'   # the real problem wins
  # --unknown_fields dead_letter keeps a code per unknown field, named by its place (issue 17).
  legacy = RecordValidator(SCHEMA, ValidationPolicy(unknown_fields='dead_letter'))
  assert summarize(legacy.validate({'id': 1, 'a': 1})[1])[0] == 'unknown_field:<unknown#1>'
  # ignore drops new fields, as before.
  assert drift_policy(ValidationPolicy(), 'ignore').unknown_fields == 'ignore'
  with pytest.raises(ValueError, match='schema_drift must be one of'):
    drift_policy(ValidationPolicy(), 'add')
