"""MaskPII's policy: each method, nested and repeated paths, output schema, validation errors,
determinism across runs and processes."""

import json
import os
import subprocess
import sys

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_pipelines.transforms.masking import MaskingKey
from beam_pipelines.transforms.masking.binding import bind_policy, masked_schema
from beam_pipelines.transforms.masking.keys import DerivedKeys
from beam_pipelines.transforms.masking.mask_rows import MaskPII
from beam_pipelines.transforms.masking.maskers import compile_row_masker

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY_A = 'test-key-A-0123456789abcdef'
KEY_B = 'test-key-B-0123456789abcdef'

SCHEMA = [
    {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'n', 'type': 'INT64'},
    {'name': 'price', 'type': 'NUMERIC'},
    {'name': 'score', 'type': 'FLOAT64'},
    {'name': 'born', 'type': 'DATE'},
    {'name': 'seen', 'type': 'TIMESTAMP'},
    {'name': 'ip', 'type': 'STRING'},
    {'name': 'note', 'type': 'STRING'},
    {'name': 'emails', 'type': 'STRING', 'mode': 'REPEATED'},
    {'name': 'user', 'type': 'RECORD', 'fields': [
        {'name': 'email', 'type': 'STRING'},
        {'name': 'phone', 'type': 'STRING'},
        {'name': 'address', 'type': 'RECORD', 'fields': [
            {'name': 'city', 'type': 'STRING'}, {'name': 'zip', 'type': 'STRING'}]}]},
    {'name': 'items', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
        {'name': 'sku', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'owner', 'type': 'STRING'}]},
]

ROW = {
    'id': 'cust-42', 'n': 37, 'price': '12.345', 'score': 71.5, 'born': '1990-11-10',
    'seen': '2026-03-04T05:06:07.000000Z', 'ip': '203.0.113.77', 'note': 'call me',
    'emails': ['a@example.com', 'b@example.org'],
    'user': {'email': 'jane.doe@example.com', 'phone': '+49 30 4773545',
             'address': {'city': 'Lagos', 'zip': '10115'}},
    'items': [{'sku': 'SKU-1', 'owner': 'alice'}, {'sku': 'SKU-2', 'owner': 'bob'}],
}


def masker(policy, key=KEY_A, schema=SCHEMA):
  bound = bind_policy(policy, schema)
  return compile_row_masker(bound, DerivedKeys(MaskingKey('env:X', key.encode())))


def policy(fields, default='drop'):
  return {'version': 1, 'default': default, 'fields': fields}


def test_hmac_is_keyed_sha256_with_key_id_prefix():
  import hashlib
  import hmac
  out = masker(policy({'id': 'hmac'}))(ROW)
  key_id = MaskingKey('env:X', KEY_A.encode()).key_id
  expected = hmac.new(KEY_A.encode(), b'cust-42', hashlib.sha256).hexdigest()
  assert out == {'id': f'{key_id}:{expected}'}
  assert key_id.startswith('k') and len(key_id) == 9


def test_hmac_other_key_other_pseudonym_and_context_separates_fields():
  a = masker(policy({'id': 'hmac'}))(ROW)['id']
  b = masker(policy({'id': 'hmac'}), key=KEY_B)(ROW)['id']
  assert a != b and a.split(':')[0] != b.split(':')[0]
  with_context = masker(policy({'id': {'method': 'hmac', 'context': 'customers'}}))(ROW)['id']
  assert with_context != a
  short = masker(policy({'id': {'method': 'hmac', 'length': 16}}))(ROW)['id']
  assert short == a[:len(short)] and len(short.split(':')[1]) == 16


def test_hmac_of_an_integer_column_is_a_string():
  out = masker(policy({'id': 'keep', 'n': 'hmac'}))(ROW)
  assert isinstance(out['n'], str) and out['n'] != '37' and '37' not in out['n'].split(':')[1][:2]
  assert masked_schema(SCHEMA, policy({'id': 'keep', 'n': 'hmac'})).find('n').type == 'STRING'


def test_tokenize_prefix_and_determinism():
  m = masker(policy({'id': {'method': 'tokenize', 'prefix': 'cust_', 'length': 12}}))
  token = m(ROW)['id']
  key_id = MaskingKey('env:X', KEY_A.encode()).key_id
  assert token.startswith(f'cust_{key_id}_') and len(token) == len(f'cust_{key_id}_') + 12
  assert token == m(dict(ROW))['id']
  assert token != m(dict(ROW, id='cust-43'))['id']
  hmac_value = masker(policy({'id': 'hmac'}))(ROW)['id']
  assert token.split('_')[-1] not in hmac_value


def test_redact_default_and_null_replacement():
  out = masker(policy({'id': 'keep', 'note': 'redact', 'n': {'method': 'redact',
                                                              'replacement': None}}))(ROW)
  assert out == {'id': 'cust-42', 'note': '[REDACTED]', 'n': None}
  schema = masked_schema(SCHEMA, policy({'id': 'redact', 'n': {'method': 'redact',
                                                               'replacement': None}}))
  assert (schema.find('id').type, schema.find('id').mode) == ('STRING', 'REQUIRED')
  assert (schema.find('n').type, schema.find('n').mode) == ('INT64', 'NULLABLE')


def test_partial_keep_last_and_email_domain():
  m = masker(policy({'id': 'keep', 'user.phone': {'method': 'partial', 'keep_last': 4},
                     'user.email': {'method': 'partial', 'keep': 'email_domain'},
                     'note': {'method': 'partial', 'keep_last': 16, 'mask_char': '#'}}))
  out = m(ROW)
  assert out['user'] == {'email': '***@example.com', 'phone': '**********3545'}
  # never more than half of a value is kept: 'call me' (7 chars) keeps 3
  assert out['note'] == '####' + ' me'
  assert m(dict(ROW, user={'email': 'no-at-sign'}))['user'] == {'email': '***'}


def test_generalize_dates_ip_and_numbers():
  m = masker(policy({
      'id': 'keep', 'born': {'method': 'generalize', 'to': 'year'},
      'seen': {'method': 'generalize', 'to': 'month'},
      'ip': {'method': 'generalize', 'to': 'network'},
      'n': {'method': 'generalize', 'to': 'bucket', 'size': 10},
      'price': {'method': 'generalize', 'to': 'bucket', 'size': 5},
      'score': {'method': 'generalize', 'to': 'bucket', 'size': 25}}))
  out = m(ROW)
  assert out == {'id': 'cust-42', 'born': '1990-01-01', 'seen': '2026-03-01',
                 'ip': '203.0.113.0/24', 'n': 30, 'price': '10', 'score': 50.0}
  assert m(dict(ROW, ip='2001:db8:1:2::7'))['ip'] == '2001:db8:1::/48'
  assert m(dict(ROW, ip='not an ip'))['ip'] is None
  assert m(dict(ROW, n=-1))['n'] == -10
  schema = masked_schema(SCHEMA, policy({'seen': {'method': 'generalize', 'to': 'month'},
                                         'id': 'keep'}))
  assert schema.find('seen').type == 'DATE'


def test_drop_keep_and_default():
  out = masker(policy({'id': 'keep', 'n': 'drop'}, default='keep'))(ROW)
  assert 'n' not in out and out['user'] == ROW['user'] and out['items'] == ROW['items']
  assert masker(policy({'id': 'keep'}, default='drop'))(ROW) == {'id': 'cust-42'}
  schema = masked_schema(SCHEMA, policy({'id': 'keep'}, default='drop'))
  assert schema.field_names() == ['id']


def test_nested_paths_keep_only_named_subfields_and_share_kept_subtrees():
  m = masker(policy({'id': 'keep', 'user.address.city': 'redact', 'user.email': 'hmac'}))
  out = m(ROW)
  assert set(out['user']) == {'email', 'address'}
  assert out['user']['address'] == {'city': '[REDACTED]'}
  schema = masked_schema(SCHEMA, policy({'id': 'keep', 'user.address.city': 'redact'}))
  assert [f.name for f in schema.find('user').fields] == ['address']
  kept = masker(policy({'id': 'keep', 'user': 'keep'}))(ROW)
  assert kept['user'] is ROW['user']  # no copy of a kept sub-tree


def test_repeated_record_and_repeated_scalar_apply_to_each_element():
  m = masker(policy({'id': 'keep', 'items.owner': 'hmac', 'items.sku': 'keep',
                     'emails': {'method': 'partial', 'keep': 'email_domain'}}))
  out = m(ROW)
  assert [i['sku'] for i in out['items']] == ['SKU-1', 'SKU-2']
  owners = [i['owner'] for i in out['items']]
  assert len(set(owners)) == 2 and all(':' in o for o in owners)
  assert out['emails'] == ['***@example.com', '***@example.org']
  assert m(dict(ROW, items=[], emails=[])) == {'id': 'cust-42', 'items': [], 'emails': []}
  schema = masked_schema(SCHEMA, policy({'items.owner': 'hmac', 'id': 'keep'}))
  items = schema.find('items')
  assert items.mode == 'REPEATED' and [f.name for f in items.fields] == ['owner']


def test_missing_and_null_values_stay_missing_and_null():
  m = masker(policy({'id': 'hmac', 'note': 'redact', 'user.email': 'hmac'}))
  out = m({'id': 'x', 'note': None, 'user': None})
  assert out['note'] is None and out['user'] is None and 'n' not in out


def test_paths_match_case_insensitively_and_use_schema_spelling():
  out = masker(policy({'ID': 'keep', 'User.EMAIL': 'redact'}))(ROW)
  assert out == {'id': 'cust-42', 'user': {'email': '[REDACTED]'}}


def test_sample_policy_masked_schema_for_sample_schema():
  schema = masked_schema(os.path.join(REPO, 'samples', 'events_schema.json'),
                         os.path.join(REPO, 'samples', 'masking_policy.yaml'))
  assert schema.find('location') is None and schema.find('signature') is None
  assert schema.find('user.id').type == 'STRING'
  assert schema.find('user.birth_date').type == 'DATE'
  assert schema.find('session_start').type == 'STRING'
  assert schema.find('items.sku').type == 'STRING'


@pytest.mark.parametrize('fields,message', [
    ({'id': 'scramble'}, "id: unknown method 'scramble'"),
    ({'user.emial': 'hmac'}, "'user.emial' is not in the input schema"),
    ({'id.x': 'hmac'}, "'id.x' is not in the input schema"),
    ({'n': {'method': 'partial', 'keep_last': 2}}, 'n: partial applies to STRING'),
    ({'note': {'method': 'partial'}}, 'note: partial needs exactly one of'),
    ({'note': {'method': 'partial', 'keep_last': 0}}, 'keep_last must be an integer in [1, 16]'),
    ({'note': {'method': 'hmac', 'salt': 'x'}}, "note: unknown parameter 'salt' for method hmac"),
    ({'born': {'method': 'generalize', 'to': 'decade'}}, 'born: generalize of a DATE needs'),
    ({'n': {'method': 'generalize', 'to': 'bucket', 'size': 0}}, 'n: parameter size'),
    ({'n': {'method': 'generalize', 'to': 'bucket', 'size': 2.5}}, 'an integer for INT64'),
    ({'user': 'hmac'}, 'user: method hmac cannot apply to a RECORD'),
    ({'user': 'drop', 'user.email': 'hmac'}, "user is dropped but the policy also names"),
    ({'emails': {'method': 'redact', 'replacement': None}}, 'emails: redact with replacement null'),
    ({'id': 'keep', 'ID': 'hmac'}, "'ID' is named twice"),
    ({'id': 42}, 'id: expected a method name'),
])
def test_policy_errors_name_the_path_and_problem(fields, message):
  with pytest.raises(ValueError) as info:
    bind_policy(policy(fields), SCHEMA)
  assert message in str(info.value)


@pytest.mark.parametrize('document,message', [
    ({'fields': {}}, 'default must be drop or keep'),
    ({'default': 'mask', 'fields': {}}, 'default must be drop or keep'),
    ({'default': 'drop', 'fields': {}, 'colour': 1}, "unknown top-level key 'colour'"),
    ({'default': 'drop', 'version': 2, 'fields': {}}, 'unsupported version 2'),
    ({'default': 'drop', 'fields': {'note': 'drop'}}, 'drops every field'),
])
def test_policy_document_errors(document, message):
  with pytest.raises(ValueError, match=message.replace('(', r'\(')):
    bind_policy(document, SCHEMA)


def test_policy_file_yaml_and_json_and_unreadable(tmp_path):
  yaml_file = tmp_path / 'p.yaml'
  yaml_file.write_text('default: drop\nfields:\n  id: hmac\n  user.email: {method: redact}\n')
  json_file = tmp_path / 'p.json'
  json_file.write_text(json.dumps(policy({'id': 'hmac', 'user.email': 'redact'})))
  assert (masked_schema(SCHEMA, str(yaml_file)).to_json()
          == masked_schema(SCHEMA, str(json_file)).to_json())
  with pytest.raises(ValueError, match='cannot read masking policy'):
    bind_policy(str(tmp_path / 'missing.yaml'), SCHEMA)
  bad = tmp_path / 'bad.yaml'
  bad.write_text('default: drop\nfields: {id: [unclosed\n')
  with pytest.raises(ValueError, match='bad.yaml: not valid YAML/JSON'):
    bind_policy(str(bad), SCHEMA)


def test_mask_pii_transform_counts_and_erases():
  key = MaskingKey('env:X', KEY_A.encode())
  rows = [dict(ROW, id=f'cust-{i}') for i in range(5)]
  p = beam.Pipeline('FnApiRunner')
  result = (p | beam.Create(rows)
            | MaskPII(SCHEMA, policy({'id': 'keep', 'n': 'keep'}), key, subject_field='id',
                      erase_ids={'cust-1', 'cust-3'}))
  assert_that(result.rows, equal_to([{'id': f'cust-{i}', 'n': 37} for i in (0, 2, 4)]))
  assert_that(result.dead_letters, equal_to([]), label='NoDeadLetters')
  outcome = p.run()
  outcome.wait_until_finish()
  from beam_pipelines.runtime.summary import collect_counters
  counters = collect_counters(outcome)
  assert counters[('mask', 'erased')] == 2 and counters[('mask', 'rows')] == 3


def test_mask_pii_erase_list_as_side_input(tmp_path):
  from beam_pipelines.transforms.masking import LoadEraseList
  erase = tmp_path / 'erase.txt'
  erase.write_text('# comment\ncust-0\n\n  cust-4  \n')
  key = MaskingKey('env:X', KEY_A.encode())
  with beam.Pipeline('FnApiRunner') as p:
    ids = p | LoadEraseList(str(erase))
    result = (p | beam.Create([dict(ROW, id=f'cust-{i}') for i in range(5)])
              | MaskPII(SCHEMA, policy({'id': 'keep'}), key, subject_field='id', erase_ids=ids))
    assert_that(result.rows, equal_to([{'id': f'cust-{i}'} for i in (1, 2, 3)]))


def test_mask_pii_constructor_errors():
  key = MaskingKey('env:X', KEY_A.encode())
  with pytest.raises(ValueError, match="subject field 'nope' is not in the input schema"):
    MaskPII(SCHEMA, policy({'id': 'keep'}), key, subject_field='nope')
  with pytest.raises(ValueError, match="subject field 'items.sku' is inside or is a REPEATED"):
    MaskPII(SCHEMA, policy({'id': 'keep'}), key, subject_field='items.sku')
  with pytest.raises(ValueError, match='key must be a MaskingKey'):
    MaskPII(SCHEMA, policy({'id': 'keep'}), KEY_A)
  with pytest.raises(ValueError, match='erase_ids needs subject_field'):
    MaskPII(SCHEMA, policy({'id': 'keep'}), key, erase_ids={'a'})


_PSEUDONYM_SCRIPT = '''
import json, os, sys
sys.path.insert(0, os.getcwd())
from beam_pipelines.transforms.masking import MaskingKey, bind_policy
from beam_pipelines.transforms.masking.keys import DerivedKeys
from beam_pipelines.transforms.masking.policy import compile_row_masker
schema, policy, row = json.loads(sys.stdin.read())
bound = bind_policy(policy, schema)
print(json.dumps([compile_row_masker(bound, DerivedKeys(MaskingKey.load(f'env:{name}')))(row)
                  for name in ('WT_MASK_KEY_A', 'WT_MASK_KEY_B')]))
'''


def test_pseudonyms_are_identical_across_processes_and_differ_across_keys():
  # Another interpreter (another run, with its own random hash seed) gives the same
  # pseudonyms for the same key, and different ones for another key.
  doc = policy({'id': 'hmac', 'items.owner': {'method': 'tokenize', 'prefix': 'o_'}})
  env = dict(os.environ, WT_MASK_KEY_A=KEY_A, WT_MASK_KEY_B=KEY_B, PYTHONHASHSEED='random')
  done = subprocess.run([sys.executable, '-c', _PSEUDONYM_SCRIPT], cwd=REPO, env=env,
                        input=json.dumps([SCHEMA, doc, ROW]), capture_output=True, text=True,
                        timeout=60, check=True)
  there_a, there_b = json.loads(done.stdout)
  here_a, here_b = masker(doc)(ROW), masker(doc, key=KEY_B)(ROW)
  assert there_a == here_a and there_b == here_b
  assert here_a['id'] != here_b['id'] and here_a['items'] != here_b['items']
  assert here_a['id'].split(':')[0] != here_b['id'].split(':')[0]  # key ids differ


def test_pseudonyms_are_identical_across_multiprocess_workers():
  # Two worker processes (FnApiRunner multi_processing) mask the same ids: same pseudonyms.
  from apache_beam.options.pipeline_options import PipelineOptions
  key = MaskingKey('env:X', KEY_A.encode())
  doc = policy({'id': 'hmac'})
  expected = masker(doc)({'id': 'cust-7'})['id']
  options = PipelineOptions(['--direct_num_workers', '2',
                             '--direct_running_mode', 'multi_processing'])
  with beam.Pipeline('FnApiRunner', options=options) as p:
    out = (p | beam.Create([{'id': 'cust-7'}] * 40) | beam.Reshuffle()
           | MaskPII(SCHEMA, doc, key)).rows | beam.Map(lambda r: r['id'])
    assert_that(out | beam.Distinct(), equal_to([expected]))


# Every generated PII value carries the marker "PII", which no pseudonym (lower-case hex /
# base32), token prefix, redaction string or field name contains: any occurrence is a leak.
_pii = st.text(alphabet=st.characters(blacklist_categories=('Cs',)), min_size=3,
               max_size=30).map(lambda s: 'PII' + s)
_domain = st.from_regex(r'[a-z]{1,10}\.[a-z]{2,4}', fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(secret_id=_pii, local=_pii, domain=_domain, phone=_pii, city=_pii, owner=_pii)
def test_property_masking_never_emits_an_input_pii_value(secret_id, local, domain, phone, city,
                                                         owner):
  m = masker(policy({
      'id': 'hmac', 'user.email': {'method': 'partial', 'keep': 'email_domain'},
      'user.phone': {'method': 'partial', 'keep_last': 4}, 'user.address.city': 'redact',
      'items.owner': {'method': 'tokenize'}, 'items.sku': 'keep'}))
  row = {'id': secret_id, 'note': secret_id,
         'user': {'email': f'{local}@{domain}', 'phone': phone,
                  'address': {'city': city, 'zip': '99999'}},
         'items': [{'sku': 'S', 'owner': owner}]}
  out = m(row)
  text = json.dumps(out, ensure_ascii=False)
  for value in (secret_id, local, phone, city, owner):
    assert value not in text
  assert out['user']['email'] == '***@' + domain
  assert 'note' not in out  # unnamed field, default drop


def test_reloading_erase_list_rereads_after_the_refresh_period(tmp_path):
  from beam_pipelines.transforms.masking.erasure import EraseListCache, ReloadingEraseList
  path = tmp_path / 'erase.txt'
  path.write_text('a\n')
  now = [100.0]
  failures = []
  cache = EraseListCache(ReloadingEraseList(str(path), 60), on_reload_failure=lambda:
                         failures.append(1), clock=lambda: now[0])
  assert cache.get() == {'a'}
  path.write_text('a\nb\n')
  now[0] = 159.0
  assert cache.get() == {'a'}  # still fresh: no re-read
  now[0] = 160.0
  assert cache.get() == {'a', 'b'}
  path.unlink()
  now[0] = 221.0
  assert cache.get() == {'a', 'b'} and failures == [1]  # a failed re-read keeps the old list
  with pytest.raises(ValueError, match='cannot read erase list'):
    EraseListCache(ReloadingEraseList(str(path), 60)).get()  # a failed first read is loud
  with pytest.raises(ValueError, match='refresh_seconds must be positive'):
    ReloadingEraseList(str(path), 0)


def test_mask_pii_with_a_reloading_erase_list(tmp_path):
  from beam_pipelines.transforms.masking.erasure import ReloadingEraseList
  erase = tmp_path / 'erase.txt'
  erase.write_text('cust-2\n')
  key = MaskingKey('env:X', KEY_A.encode())
  with beam.Pipeline('FnApiRunner') as p:
    result = (p | beam.Create([dict(ROW, id=f'cust-{i}') for i in range(4)])
              | MaskPII(SCHEMA, policy({'id': 'keep'}), key, subject_field='id',
                        erase_ids=ReloadingEraseList(str(erase), 300)))
    assert_that(result.rows, equal_to([{'id': f'cust-{i}'} for i in (0, 1, 3)]))


@settings(max_examples=300, deadline=None)
@given(octets=st.lists(st.integers(0, 300), min_size=4, max_size=4),
       prefix=st.integers(0, 32), zero_pad=st.booleans())
def test_property_ipv4_fast_path_agrees_with_ipaddress(octets, prefix, zero_pad):
  import ipaddress

  from beam_pipelines.transforms.masking.methods import generalize
  from beam_pipelines.transforms.core.schema import FieldSpec
  fn = generalize.compile(FieldSpec('ip', 'STRING'),
                          {'to': 'network', 'ipv4_prefix': prefix, 'ipv6_prefix': 48}, None)
  text = '.'.join(('0' + str(o)) if zero_pad and i == 0 else str(o) for i, o in enumerate(octets))
  try:
    expected = str(ipaddress.ip_network(f'{ipaddress.ip_address(text)}/{prefix}', strict=False))
  except ValueError:
    expected = None
  assert fn(text) == expected
