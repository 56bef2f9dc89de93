"""Record-level validation: modes, nesting, repeated fields, unknown fields, paths."""

import pytest

from beam_pipelines.transforms.validate.validator import RecordValidator, ValidationPolicy, summarize

SCHEMA = [
    {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'n', 'type': 'INTEGER'},
    {'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'},
    {'name': 'user', 'type': 'RECORD', 'mode': 'REQUIRED', 'fields': [
        {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'address', 'type': 'RECORD', 'fields': [
            {'name': 'zip', 'type': 'STRING', 'mode': 'REQUIRED'},
            {'name': 'geo', 'type': 'RECORD', 'fields': [
                {'name': 'lat', 'type': 'FLOAT'}]}]}]},
    {'name': 'items', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
        {'name': 'sku', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'qty', 'type': 'INTEGER'}]},
]


def good():
  return {'id': 'a', 'n': 1, 'tags': ['x', 'y'],
          'user': {'id': 'u1', 'address': {'zip': '10115', 'geo': {'lat': 52.5}}},
          'items': [{'sku': 's1', 'qty': 2}, {'sku': 's2'}]}


def validate(obj, **policy):
  return RecordValidator(SCHEMA, ValidationPolicy(**policy)).validate(obj)


def test_good_record_passes_unchanged():
  row, problems = validate(good())
  assert problems == []
  assert row == good()


def test_nullable_absent_and_null_repeated_become_empty_array():
  obj = good()
  del obj['n']
  obj['tags'] = None
  row, problems = validate(obj)
  assert problems == []
  assert 'n' not in row
  assert row['tags'] == []


@pytest.mark.parametrize('mutate,error_type,location', [
    (lambda o: o.pop('id'), 'missing_required:id', 'id'),
    (lambda o: o.update(id=None), 'missing_required:id', 'id'),
    (lambda o: o['user'].pop('id'), 'missing_required:user.id', 'user.id'),
    (lambda o: o['user']['address'].update(zip=None), 'missing_required:user.address.zip',
     'user.address.zip'),
    (lambda o: o['user']['address']['geo'].update(lat='north'),
     'type_mismatch:user.address.geo.lat', 'user.address.geo.lat'),
    (lambda o: o['items'][1].update(qty='2'), 'type_mismatch:items.qty', 'items[1].qty'),
    (lambda o: o['items'][0].pop('sku'), 'missing_required:items.sku', 'items[0].sku'),
    (lambda o: o.update(tags='x'), 'type_mismatch:tags', 'tags'),
    (lambda o: o.update(n=[1, 2]), 'type_mismatch:n', 'n'),
    (lambda o: o.update(user='u1'), 'type_mismatch:user', 'user'),
    (lambda o: o.update(tags=['a', None]), 'null_element:tags', 'tags[1]'),
    (lambda o: o.update(items=[{'sku': 's'}, 5]), 'type_mismatch:items', 'items[1]'),
])
def test_each_failure_names_the_field(mutate, error_type, location):
  obj = good()
  mutate(obj)
  row, problems = validate(obj)
  assert row is None
  assert problems[0].error_type == error_type
  assert problems[0].location == location


def test_all_problems_are_reported_first_one_sets_error_type():
  obj = good()
  obj['n'] = 'x'
  obj['user']['id'] = None
  _, problems = validate(obj)
  error_type, message = summarize(problems)
  assert error_type == 'type_mismatch:n'
  assert 'n: expected an integer' in message and 'user.id: required' in message


def test_not_an_object():
  row, problems = validate([1, 2])
  assert row is None
  assert problems[0].error_type == 'not_an_object'


def test_unknown_fields_ignored_by_default_and_dropped():
  obj = good()
  obj['extra'] = 1
  obj['user']['nickname'] = 'z'
  row, problems = validate(obj)
  assert problems == []
  assert 'extra' not in row and 'nickname' not in row['user']


def test_unknown_fields_dead_letter_policy_names_nested_path():
  obj = good()
  obj['user']['address']['street'] = 'x'
  obj['user']['address']['someone@example.com'] = 'y'
  _, problems = validate(obj, unknown_fields='dead_letter')
  # The path names the place of each unknown key, never the key (issue 17): errorType is a
  # counter name, and a key may be personal data. The message quotes the key.
  assert [p.error_type for p in problems] == ['unknown_field:user.address.<unknown#1>',
                                              'unknown_field:user.address.<unknown#2>']
  assert [p.describe() for p in problems] == [
      "user.address.<unknown#1>: field 'street' is not in the schema",
      "user.address.<unknown#2>: field 'someone@example.com' is not in the schema"]


def test_column_names_match_case_insensitively_like_bigquery():
  obj = good()
  obj['N'] = obj.pop('n')
  row, problems = validate(obj, unknown_fields='dead_letter')
  assert problems == []
  assert row['n'] == 1


def test_bad_policy_values_raise_value_error_naming_the_argument():
  with pytest.raises(ValueError, match='unknown_fields'):
    ValidationPolicy(unknown_fields='maybe')
  with pytest.raises(ValueError, match='non_finite_floats'):
    ValidationPolicy(non_finite_floats='zero')
