"""Issue 17: fields the schema does not know, and keys that are personal data, under a masking
policy. Unknown fields at any depth (under kept, masked or unlisted RECORDs) follow the
policy's ``default`` in rows and dead-letter payloads alike; an unknown key never becomes part
of an errorType (so never of a counter name or the summary); what quotes it is scrubbed.

Each test failed on f7421cc (before the fix); the property tests
(``tests/property/test_masking_leak_properties.py``) generate such cases at random.
"""

import base64
import json

import pytest

from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.masking import MaskingKey, bind_policy
from beam_pipelines.transforms.masking.keys import DerivedKeys
from beam_pipelines.transforms.masking.mask_dead_letters import MaskDeadLettersFn
from beam_pipelines.transforms.masking.maskers import compile_row_masker
from beam_pipelines.transforms.masking.patterns import scrub_json_text
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat
from beam_pipelines.transforms.validate.parse import ParseAndValidateFn, ParseConfig
from beam_pipelines.transforms.validate.validator import ValidationPolicy

KEY = MaskingKey('env:X', b'unknown-fields-test-key-0123456789')
SCHEMA = [
    {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'item', 'type': 'RECORD', 'fields': [
        {'name': 'sku', 'type': 'STRING'}, {'name': 'qty', 'type': 'INT64'},
        {'name': 'extra', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
            {'name': 'code', 'type': 'STRING'}]}]},
    {'name': 'customer', 'type': 'RECORD', 'fields': [
        {'name': 'email', 'type': 'STRING'}]},
]
NAME = 'Zorbath Quillfeather'
EMAIL = 'zorbath.q@leak-mail.example'
# `item: keep`, as a privacy-minded user writes it, with `default: drop`.
RECORD = {'id': 'a-1',
          'item': {'sku': 'S-1', 'qty': 2, 'note': f'for {NAME} <{EMAIL}>',
                   'extra': [{'code': 'c', 'holder': {'name': NAME}}],
                   'deep': {'who': [NAME]}},
          'customer': {'email': EMAIL, NAME: 'vip'}}


def bound(default='drop'):
  return bind_policy({'default': default, 'fields': {
      'id': 'keep', 'item': 'keep', 'customer.email': 'hmac'}}, SCHEMA)


def dead_letters(payloads, default='drop', mode='mask', unknown='dead_letter', csv=None,
                 attributes=None):
  parse = ParseConfig(format='csv' if csv else 'json', csv=csv,
                      policy=ValidationPolicy(unknown_fields=unknown))
  schema = {'fields': [f for f in SCHEMA if not csv or f['type'] != 'RECORD']}
  parser = ParseAndValidateFn(load_schema(schema), parse, 'test')
  parser.setup()
  raw = [out.value for i, p in enumerate(payloads)
         for out in parser.process(RawMessage(p, attributes or {}, f's:{i}', 0.0, None))
         if hasattr(out, 'tag')]
  policy = (bind_policy({'default': default, 'fields': {'id': 'keep'}}, schema) if csv
            else bound(default))
  masker = MaskDeadLettersFn(policy, KEY, mode, None, None, csv, 'test')
  masker.setup()
  return raw, [out for d in raw for out in masker.process(d)]


def payload_of(dead_letter):
  return dead_letter['payloadString'] + base64.b64decode(
      dead_letter['payloadBytes']).decode('utf-8', 'replace')


def test_a_kept_record_keeps_its_known_fields_only_in_rows():
  mask = compile_row_masker(bound(), DerivedKeys(KEY))
  out = mask(json.loads(json.dumps(RECORD)))
  assert out['item'] == {'sku': 'S-1', 'qty': 2, 'extra': [{'code': 'c'}]}
  assert NAME not in json.dumps(out) and 'zorbath.q' not in json.dumps(out)
  # (a kept sub-tree without unknown keys is still shared, not copied)
  item = {'sku': 'S-1', 'extra': [{'code': 'c'}]}
  assert mask({'id': 'a', 'item': item})['item'] is item


@pytest.mark.parametrize('default', ['drop', 'keep'])
def test_unknown_fields_under_a_kept_record_follow_default_in_dead_letter_payloads(default):
  _, [out] = dead_letters([json.dumps(RECORD).encode()], default=default)
  masked = json.loads(out['payloadString'])
  if default == 'drop':  # the note, the holder, the deep object and the keyed entry: gone
    assert masked['item'] == {'sku': 'S-1', 'qty': 2, 'extra': [{'code': 'c'}]}
    assert set(masked['customer']) == {'email'}
    assert NAME not in payload_of(out) and 'Quillfeather' not in json.dumps(out)
  else:  # approved by default keep: kept, pattern-redacted
    assert masked['item']['note'] == f'for {NAME} <[EMAIL]>'
    assert masked['item']['extra'] == [{'code': 'c', 'holder': {'name': NAME}}]
  assert 'zorbath.q' not in json.dumps(out)


def test_an_unknown_key_is_never_part_of_the_error_type_and_is_scrubbed_from_the_message():
  raw, [out] = dead_letters([json.dumps(RECORD).encode()])
  assert raw[0]['errorType'] == 'unknown_field:item.extra.<unknown#1>'
  assert EMAIL not in raw[0]['errorType'] and NAME not in raw[0]['errorType']
  assert NAME in raw[0]['errorMessage']  # (the validator quotes it: useful without a policy)
  assert out['errorType'] == raw[0]['errorType']
  assert NAME not in out['errorMessage'] and 'Quillfeather' not in out['errorMessage']
  assert out['errorMessage'].startswith('item.extra[0].<unknown#1>: field ')
  assert 'customer.<unknown#1>: field ' in out['errorMessage']


def test_a_flood_of_distinct_keys_makes_a_handful_of_error_types():
  payloads = [json.dumps({'id': 'x', f'user{i}@leak-mail.example': 1}).encode()
              for i in range(300)]
  raw, _ = dead_letters(payloads)
  assert len(raw) == 300
  assert {d['errorType'] for d in raw} == {'unknown_field:<unknown#1>'}


@pytest.mark.parametrize('payload', [
    # a truncated payload: the kept-looking value is cut, the unknown key is a name
    f'{{"id": "a-1", "{NAME}": "x", "item": {{"sku": "S-1", "note": "{NAME}'.encode(),
    # an array: the name follows a kept field's value but is no field of it
    f'[{{"id": "a-1"}}, "{NAME}"]'.encode() + b'\xff',
    # a name where a kept INT64 belongs, in text that does not parse
    f'{{"item": {{"qty": "{NAME}"}}, '.encode() + b'\xff',
])
def test_unparseable_json_is_scrubbed_by_path(payload):
  _, [out] = dead_letters([payload])
  assert 'Quillfeather' not in payload_of(out), payload_of(out)
  assert out['attributes'][-1] == {'key': 'payload_masking', 'value': 'scrubbed'}


def test_scrub_json_text_keeps_only_kept_paths_and_known_keys():
  kept = {'id': None, 'item.sku': None, 'tags': None}
  text = '{"id": "a", "sku": "no", "item": {"sku": "S-1", "x": [1, {"sku": "no"}]}, "tags": ["t1'
  out, _ = scrub_json_text(text + '"]', kept, known_paths={'id', 'item', 'item.sku', 'tags'})
  assert out == ('{"id": "a", "[REDACTED]": "[REDACTED]", "item": {"sku": "S-1", '
                 '"[REDACTED]": ["[REDACTED]", {"[REDACTED]": "[REDACTED]"}]}, "tags": ["t1"]')


def test_csv_header_names_that_are_input_are_scrubbed_from_messages():
  header = json.dumps(['id', NAME, 'Vexmira Thornwick'])
  raw, [out] = dead_letters([b'a-1,x,y,z'], csv=CsvFormat(), unknown='ignore',
                            attributes={'format': 'csv', 'csv_columns': header})
  assert raw[0]['errorType'] == 'csv_column_count'
  assert NAME in raw[0]['errorMessage']
  assert 'Quillfeather' not in out['errorMessage'] and 'Thornwick' not in out['errorMessage']
  assert 'Quillfeather' not in json.dumps(out['attributes'])


@pytest.mark.parametrize('default', ['drop', 'keep'])
def test_attributes_follow_the_policy(default):
  from beam_pipelines.transforms.masking.attributes import compile_attribute_masker
  schema = [{'name': 'id', 'type': 'STRING'}]
  policy = {'default': default, 'attributes': ['event_type'], 'fields': {'id': 'keep'}}
  mask = compile_attribute_masker(bind_policy(policy, schema))
  out = mask([{'key': 'event_type', 'value': f'signup by {EMAIL}'},
              {'key': 'customer', 'value': NAME}, {'key': EMAIL, 'value': 'x'},
              {'key': 'file', 'value': '/data/in.csv'},
              {'key': 'csv_columns', 'value': json.dumps(['ID', NAME])}])
  kept = {'event_type': 'signup by [EMAIL]', 'file': '/data/in.csv'}
  if default == 'drop':  # named or the suite's own only; header names outside the schema
    assert {a['key']: a['value'] for a in out} == dict(
        kept, csv_columns=json.dumps(['ID', '<unknown#1>']))
  else:  # default keep approves them: kept, pattern-redacted (keys too)
    assert {a['key']: a['value'] for a in out} == dict(
        kept, customer=NAME, **{'[EMAIL]': 'x'}, csv_columns=json.dumps(['ID', NAME]))


def test_policy_attributes_must_be_a_list_of_names():
  with pytest.raises(ValueError, match='attributes must be a list of attribute names'):
    bind_policy({'default': 'drop', 'attributes': 'event_type', 'fields': {'id': 'keep'}},
                [{'name': 'id', 'type': 'STRING'}])
