"""Data-quality rules: config validation and every rule kind's semantics (no pipeline)."""

import json

import pytest

from beam_pipelines.transforms.quality.config import quality_output_schema
from beam_pipelines.transforms.quality.rules import compile_rule, parse_timestamp, unique_key, values_at
from beam_pipelines.transforms.quality.rules_file import load_quality_rules, parse_rule
from beam_pipelines.transforms.core.schema import load_schema

SCHEMA = load_schema([
    {'name': 'id', 'type': 'STRING'},
    {'name': 'amount', 'type': 'NUMERIC'},
    {'name': 'ts', 'type': 'TIMESTAMP'},
    {'name': 'user', 'type': 'RECORD', 'fields': [{'name': 'email', 'type': 'STRING'}]},
    {'name': 'items', 'type': 'RECORD', 'mode': 'REPEATED',
     'fields': [{'name': 'sku', 'type': 'STRING'}]},
])
NOW = 1_800_000_000.0


def check(raw, row, event_time=None, now=NOW):
  return compile_rule(parse_rule(dict(raw, id='r')))(row, event_time, now)


def test_values_at_walks_records_and_arrays():
  row = {'user': {'email': 'a@b'}, 'items': [{'sku': 'x'}, {'sku': None}, {}]}
  assert values_at(row, 'user.email') == ['a@b']
  assert values_at(row, 'items.sku') == ['x', None]
  assert values_at(row, 'missing.path') == []
  assert values_at({'user': None}, 'user.email') == []


def test_not_null():
  rule = {'kind': 'not_null', 'path': 'user.email'}
  assert check(rule, {'user': {'email': 'a@b'}}) == (1, None)
  assert check(rule, {'user': {'email': None}}) == (1, 'user.email is null')
  assert check(rule, {'user': None}) == (1, 'user.email is missing')
  arrays = {'kind': 'not_null', 'path': 'items.sku'}
  assert check(arrays, {'items': [{'sku': 'a'}, {'sku': 'b'}]}) == (1, None)
  assert check(arrays, {'items': [{'sku': 'a'}, {'sku': None}]})[1] == 'items.sku is null'
  assert check(arrays, {'items': []})[1] == 'items.sku is missing'


def test_range_is_exact_and_skips_nulls():
  rule = {'kind': 'range', 'path': 'amount', 'min': 0, 'max': '10.5'}
  assert check(rule, {'amount': '10.50'}) == (1, None)          # NUMERIC strings, exact
  assert check(rule, {'amount': 0}) == (1, None)
  assert 'above' in check(rule, {'amount': '10.500000001'})[1]
  assert 'below' in check(rule, {'amount': -0.01})[1]
  assert check(rule, {'amount': None}) == (0, None)              # not_null's business
  assert check(rule, {}) == (0, None)
  assert 'not a number' in check(rule, {'amount': 'abc'})[1]
  assert 'not a number' in check(rule, {'amount': True})[1]
  exclusive = {'kind': 'range', 'path': 'amount', 'min': 0, 'min_inclusive': False}
  assert 'below or equal' in check(exclusive, {'amount': 0})[1]
  assert check(exclusive, {'amount': 1e-9}) == (1, None)


def test_regex_matches_the_whole_text():
  rule = {'kind': 'regex', 'path': 'id', 'pattern': '[a-z]+-[0-9]+'}
  assert check(rule, {'id': 'evt-42'}) == (1, None)
  assert check(rule, {'id': 'xevt-42!'})[1] is not None     # fullmatch, not search
  assert check(rule, {'id': None}) == (0, None)
  digits = {'kind': 'regex', 'path': 'id', 'pattern': '[0-9]+'}
  assert check(digits, {'id': 42}) == (1, None)              # numbers as their JSON text


def test_allowed_values_compares_type_and_value():
  rule = {'kind': 'allowed_values', 'path': 'id', 'values': ['a', 1]}
  assert check(rule, {'id': 'a'}) == (1, None)
  assert check(rule, {'id': 1.0}) == (1, None)
  assert check(rule, {'id': True})[1] is not None            # True is not 1
  assert check(rule, {'id': 'b'})[1] is not None
  assert check(rule, {'id': None}) == (0, None)


def test_freshness_from_a_field_or_the_element_timestamp():
  rule = {'kind': 'freshness', 'path': 'ts', 'max_delay_seconds': 60,
          'max_future_seconds': 5}
  stamp = parse_timestamp('2027-01-15T08:00:00Z')
  assert check(rule, {'ts': '2027-01-15T08:00:00.000000Z'}, now=stamp + 60) == (1, None)
  assert 'old' in check(rule, {'ts': '2027-01-15T08:00:00Z'}, now=stamp + 61)[1]
  assert 'future' in check(rule, {'ts': '2027-01-15T08:00:00Z'}, now=stamp - 6)[1]
  assert check(rule, {'ts': None}, now=stamp) == (0, None)   # no event time: not checked
  element = {'kind': 'freshness', 'max_delay_seconds': 10}
  assert check(element, {}, event_time=NOW - 5) == (1, None)
  assert check(element, {}, event_time=NOW - 11)[1] is not None
  assert check(element, {}, event_time=None) == (0, None)


def test_unique_key_is_none_for_missing_parts():
  assert unique_key({'id': 'a', 'user': {'email': 'e'}}, ('id', 'user.email')) == json.dumps(
      ['a', 'e'])
  assert unique_key({'id': 'a'}, ('id', 'user.email')) is None
  assert unique_key({'id': 1}, ('id',)) != unique_key({'id': '1'}, ('id',))


@pytest.mark.parametrize('raw,message', [
    ({'kind': 'not_null', 'path': 'id'}, "id must be letters"),
    ({'id': 'x', 'kind': 'maybe', 'path': 'id'}, "quality rule 'x': kind must be one of"),
    ({'id': 'x', 'kind': 'not_null'}, "quality rule 'x': path is required"),
    ({'id': 'x', 'kind': 'not_null', 'path': 'nope'}, "quality rule 'x': path 'nope' is not in"),
    ({'id': 'x', 'kind': 'range', 'path': 'amount'}, "quality rule 'x': range needs min"),
    ({'id': 'x', 'kind': 'range', 'path': 'amount', 'min': 5, 'max': 1},
     "quality rule 'x': min 5 is greater than max 1"),
    ({'id': 'x', 'kind': 'range', 'path': 'amount', 'min': 'ten'},
     "quality rule 'x': min must be a number"),
    ({'id': 'x', 'kind': 'regex', 'path': 'id', 'pattern': '(['},
     "quality rule 'x': pattern is not a valid regular expression"),
    ({'id': 'x', 'kind': 'allowed_values', 'path': 'id', 'values': []},
     "quality rule 'x': values must be a non-empty list"),
    ({'id': 'x', 'kind': 'freshness', 'path': 'ts'},
     "quality rule 'x': max_delay_seconds is required"),
    ({'id': 'x', 'kind': 'not_null', 'path': 'id', 'action': 'drop'},
     "quality rule 'x': action must be one of"),
    ({'id': 'x', 'kind': 'not_null', 'path': 'id', 'min': 1},
     "quality rule 'x': unknown field(s) ['min']"),
])
def test_bad_rules_name_the_rule_and_field(raw, message):
  with pytest.raises(ValueError) as e:
    load_quality_rules({'rules': [raw]}, schema=SCHEMA)
  assert message in str(e.value)


def test_config_file_yaml_and_errors_name_the_file(tmp_path):
  path = tmp_path / 'rules.yaml'
  path.write_text('window_seconds: 60\nflag_field: dq\nrules:\n'
                  '  - {id: a, kind: not_null, path: id}\n'
                  '  - {id: b, kind: unique, paths: [id, user.email], action: dead_letter}\n')
  config = load_quality_rules(str(path), schema=SCHEMA)
  assert [r.id for r in config.rules] == ['a', 'b']
  assert config.unique_rules[0].paths == ('id', 'user.email')
  assert config.window_seconds == 60
  assert quality_output_schema(SCHEMA, config).find('dq').mode == 'REPEATED'
  path.write_text('rules:\n  - {id: a, kind: not_null, path: id}\n'
                  '  - {id: a, kind: not_null, path: amount}\n')
  with pytest.raises(ValueError, match=r"rules.yaml: quality rule 'a': duplicate id"):
    load_quality_rules(str(path))
  with pytest.raises(ValueError, match="unknown key"):
    load_quality_rules({'rules': [{'id': 'a', 'kind': 'not_null', 'path': 'id'}],
                        'windows': 5})
  with pytest.raises(ValueError, match='cannot read quality rules file'):
    load_quality_rules(str(tmp_path / 'missing.yaml'))
