"""Property-based tests for parse/validate: never raise, always account for the input.

For random schemas (every type, every mode, nested records) and random inputs (arbitrary
JSON values, values shaped like each type, arbitrary bytes), the parse step yields exactly
one output per input — a row or a dead letter — and never raises. Valid rows are a fixed
point: validating a row again gives the same row.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_FIELDS
from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.validate.parse import ParseConfig, ParseAndValidateFn
from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy

SCALARS = ['STRING', 'BYTES', 'INT64', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC', 'BOOL',
           'TIMESTAMP', 'DATE', 'TIME', 'DATETIME', 'GEOGRAPHY', 'JSON']
MODES = ['NULLABLE', 'REQUIRED', 'REPEATED']
NAMES = st.text(alphabet='abcdefghij_', min_size=1, max_size=6)


def fields(depth=0):
  scalar = st.builds(lambda n, t, m: {'name': n, 'type': t, 'mode': m},
                     NAMES, st.sampled_from(SCALARS), st.sampled_from(MODES))
  if depth >= 2:
    return st.lists(scalar, min_size=1, max_size=4, unique_by=lambda f: f['name'].lower())
  record = st.builds(lambda n, m, sub: {'name': n, 'type': 'RECORD', 'mode': m, 'fields': sub},
                     NAMES, st.sampled_from(MODES), st.deferred(lambda: fields(depth + 1)))
  return st.lists(st.one_of(scalar, record), min_size=1, max_size=5,
                  unique_by=lambda f: f['name'].lower())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(NAMES, children, max_size=4),
    max_leaves=12)
TYPED_TEXT = st.sampled_from([
    '2024-02-29T10:00:00Z', '2024-02-30', '0001-01-01', '9999-12-31 23:59:59.999999 UTC',
    '23:59:60', '12:00', 'POINT(1 2)', 'POLYGON((0 0,1 0,1 1,0 0))', 'aGk=', '!!',
    '1e400', '-0.0', '99999999999999999999999999999.9999999999', 'NaN', 'true', '42'])
VALUES = st.one_of(JSON_VALUES, TYPED_TEXT)


def shaped_object(schema_fields):
  return st.fixed_dictionaries(
      {}, optional={f['name']: st.one_of(VALUES, st.lists(VALUES, max_size=3))
                    for f in schema_fields})


def _has_json(schema_fields):
  return any(f['type'] == 'JSON' or _has_json(f.get('fields', [])) for f in schema_fields)


POLICIES = st.builds(ValidationPolicy,
                     unknown_fields=st.sampled_from(['ignore', 'dead_letter']),
                     coerce_types=st.booleans(),
                     non_finite_floats=st.sampled_from(['reject', 'allow', 'null']),
                     text_input=st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_fields=fields(), policy=POLICIES, data=st.data())
def test_validate_never_raises_and_rows_are_a_fixed_point(schema_fields, policy, data):
  validator = RecordValidator(schema_fields, policy)
  obj = data.draw(st.one_of(shaped_object(schema_fields), JSON_VALUES))
  row, problems = validator.validate(obj)
  assert (row is None) == bool(problems)
  for problem in problems:
    assert problem.kind and problem.detail and ':' not in problem.kind
  if row is not None:
    json.dumps(row, allow_nan=False)  # a row is always plain JSON BigQuery accepts
    again, again_problems = RecordValidator(schema_fields, ValidationPolicy(
        non_finite_floats=policy.non_finite_floats)).validate(row)
    # JSON columns are not a fixed point by definition (the value becomes JSON text).
    assert again_problems == [] or _has_json(schema_fields), again_problems
    if not _has_json(schema_fields):
      assert again == row


@settings(max_examples=300, deadline=None)
@given(schema_fields=fields(), payload=st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=100).map(lambda t: t.encode('utf-8', 'surrogatepass'))))
def test_parse_step_yields_exactly_one_output_per_input(schema_fields, payload):
  fn = ParseAndValidateFn(schema_fields, ParseConfig())
  fn.setup()
  outputs = list(fn.process(RawMessage(payload, {'a': '1'}, 'src:1', 0.0, None)))
  assert len(outputs) == 1
  out = outputs[0]
  if hasattr(out, 'tag'):  # a dead letter
    record = out.value
    assert list(record) == [f['name'] for f in DEAD_LETTER_FIELDS]
    assert record['sourceId'] == 'src:1' and record['errorType']
    assert record['stage'] in ('parse', 'validate')
  else:
    assert isinstance(out, dict)
