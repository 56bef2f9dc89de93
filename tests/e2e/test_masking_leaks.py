"""GDPR leak test: known PII seeded into good and bad records, files_to_bigquery run end to end
against the BigQuery emulator with a masking policy, every output scanned: zero raw values.

Input formats are a parameter (``WRITERS``): a new file format must add a writer that puts
the same records (good and bad) into that format; ``test_every_input_format_has_a_writer``
fails until it does.
"""

import base64
import json
import logging
import os

import pytest

from beam_pipelines import files_to_bigquery
from transforms.sources import FILE_FORMATS

pytestmark = pytest.mark.emulator

SCHEMA = [
    {'name': 'event_id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'seen', 'type': 'TIMESTAMP'},
    {'name': 'n', 'type': 'INT64'},
    {'name': 'user', 'type': 'RECORD', 'mode': 'REQUIRED', 'fields': [
        {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
        {'name': 'email', 'type': 'STRING'},
        {'name': 'phone', 'type': 'STRING'},
        {'name': 'name', 'type': 'STRING'},
        {'name': 'born', 'type': 'DATE'},
        {'name': 'address', 'type': 'RECORD', 'fields': [
            {'name': 'city', 'type': 'STRING'}, {'name': 'country', 'type': 'STRING'}]}]},
    {'name': 'device', 'type': 'RECORD', 'fields': [{'name': 'ip', 'type': 'STRING'}]},
    {'name': 'items', 'type': 'RECORD', 'mode': 'REPEATED', 'fields': [
        {'name': 'sku', 'type': 'STRING'}, {'name': 'gift_for', 'type': 'STRING'}]},
    {'name': 'notes', 'type': 'STRING'},
]
POLICY = """
version: 1
default: drop
fields:
  event_id: keep
  seen: keep
  n: keep
  user.id: hmac
  user.email: {method: partial, keep: email_domain}
  user.phone: {method: partial, keep_last: 2}
  user.name: redact
  user.born: {method: generalize, to: year}
  user.address.city: redact
  user.address.country: keep
  device.ip: {method: generalize, to: network}
  items.sku: keep
  items.gift_for: tokenize
"""
ERASED = 'subj-LEAK-ERASED-77'
# Every value below is personal data that must not appear in any output, anywhere.
PII = {
    'id': 'subj-LEAK-0001', 'id2': 'subj-LEAK-0002', 'erased': ERASED,
    'email': 'zebulon.leakman@leak-mail.example', 'email2': 'quixote.q@leak-mail.example',
    'phone': '+44 20 7946 0958', 'phone2': '+33 1 70 36 39 50',
    'name': 'Zebulon Quixote-Leakman', 'city': 'Leakville-upon-Sea',
    'born': '1971-04-13', 'bad_born': '1971-04-31', 'ip': '198.51.100.23',
    'gift': 'Aunt Philippa Leakworth', 'notes': 'his PIN is 98127', 'ssn': '078-05-1120',
    'bad_ts': 'Leakville 2020', 'erased_email': 'erased.person@leak-mail.example',
}


def good_records():
  return [
      {'event_id': 'e1', 'seen': '2026-01-01T00:00:00Z', 'n': 1,
       'user': {'id': PII['id'], 'email': PII['email'], 'phone': PII['phone'],
                'name': PII['name'], 'born': PII['born'],
                'address': {'city': PII['city'], 'country': 'GB'}},
       'device': {'ip': PII['ip']}, 'items': [{'sku': 'SKU-1', 'gift_for': PII['gift']}],
       'notes': PII['notes'], 'ssn': PII['ssn']},
      {'event_id': 'e2', 'user': {'id': PII['id2'], 'email': PII['email2'],
                                  'phone': PII['phone2']}},
      {'event_id': 'e3', 'user': {'id': ERASED, 'email': PII['erased_email']}},
  ]


def bad_records():
  """(raw line, expected errorType) for every failure stage a JSONL record can reach."""
  full = json.dumps(good_records()[0])
  return [
      (full[:full.index('Leakman') + 3].encode(), 'invalid_json'),
      (json.dumps({'event_id': 'b2', 'user': {'id': PII['id'], 'born': PII['bad_born'],
                                               'name': PII['name']}}).encode(),
       'invalid_value:user.born'),
      (json.dumps({'event_id': 'b3', 'seen': PII['bad_ts'],
                   'user': {'id': PII['id2'], 'phone': PII['phone']}}).encode(),
       'invalid_value:seen'),
      (json.dumps({'event_id': 'b4', 'user': {'email': PII['email']}}).encode(),
       'missing_required:user.id'),
      (json.dumps([PII['email2'], PII['name'], PII['ip']]).encode(), 'not_an_object'),
      (json.dumps({'event_id': 'b6', 'user': {'id': PII['id'], 'city': PII['city']},
                   'n': PII['phone2']}).encode().replace(b'b6', b'b\xff6'),
       'invalid_encoding'),
      (json.dumps({'event_id': 'b7', 'n': 'x', 'user': {'id': ERASED, 'name': PII['name']}})
       .encode(), 'type_mismatch:n'),  # an erased subject's bad record: erased, not written
      (json.dumps({'event_id': 'b8', 'n': {'ssn': PII['ssn']},
                   'user': {'id': PII['id'], 'email': [PII['email']]}}).encode(),
       'type_mismatch:n'),
  ]


def write_jsonl(directory):
  path = os.path.join(directory, 'events.jsonl')
  lines = [json.dumps(r).encode() for r in good_records()] + [line for line, _ in bad_records()]
  with open(path, 'wb') as f:
    f.write(b'\n'.join(lines) + b'\n')
  return path


WRITERS = {'jsonl': write_jsonl}


def test_every_input_format_has_a_writer():
  missing = sorted(set(FILE_FORMATS) - set(WRITERS))
  assert not missing, (f'add a leak-test writer for input format(s) {missing} to WRITERS in '
                       f'{__file__}: every format must be leak-tested')


def _all_rows_text(client, table):
  rows = [dict(r.items()) for r in client.list_rows(table)]
  text = json.dumps(rows, default=str, ensure_ascii=False)
  for row in rows:
    if isinstance(row.get('payloadBytes'), (bytes, bytearray)):
      text += bytes(row['payloadBytes']).decode('utf-8', 'replace')
  return rows, text


def _scan(haystacks):
  found = []
  for where, text in haystacks.items():
    for name, value in PII.items():
      if value in text:
        found.append((where, name, value))
  return found


@pytest.mark.parametrize('input_format', sorted(WRITERS))
@pytest.mark.parametrize('dead_letter_sink,dead_letter_payload,erase_refresh', [
    ('bigquery', 'mask', '0'), ('files', 'drop', '0'), ('bigquery', 'mask', '30')])
def test_no_raw_pii_in_any_output(tmp_path, bigquery_emulator, bq_client, bq_dataset, caplog,
                                  capfd, monkeypatch, input_format, dead_letter_sink,
                                  dead_letter_payload, erase_refresh):
  caplog.set_level(logging.INFO)
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  input_path = WRITERS[input_format](str(tmp_path))
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'policy.yaml').write_text(POLICY)
  (tmp_path / 'erase.txt').write_text(ERASED + '\n')
  argv = ['--input', input_path, '--input_format', input_format,
          '--schema', str(tmp_path / 'schema.json'),
          '--output_table', f'{bq_dataset}.events',
          '--masking_policy', str(tmp_path / 'policy.yaml'),
          '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
          '--dead_letter_payload', dead_letter_payload,
          '--erase_list', str(tmp_path / 'erase.txt'), '--subject_field', 'user.id',
          '--erase_list_refresh_seconds', erase_refresh]
  if dead_letter_sink == 'files':
    argv += ['--dead_letter_sink', 'files', '--dead_letter_path', str(tmp_path / 'dl' / 'dead')]
  _, summary = files_to_bigquery.run(argv, print_summary=True)

  rows, rows_text = _all_rows_text(bq_client, f'{bq_dataset}.events')
  haystacks = {'output table': rows_text}
  if dead_letter_sink == 'bigquery':
    dead, haystacks['error table'] = _all_rows_text(bq_client,
                                                    f'{bq_dataset}.events_error_records')
  else:
    dead, files_text = [], ''
    for name in os.listdir(tmp_path / 'dl'):
      with open(tmp_path / 'dl' / name, encoding='utf-8') as f:
        for line in f:
          record = json.loads(line)
          dead.append(record)
          files_text += line + base64.b64decode(record['payloadBytes']).decode('utf-8',
                                                                              'replace')
    haystacks['dead-letter files'] = files_text
  captured = capfd.readouterr()
  haystacks['logs'] = caplog.text
  haystacks['stdout'] = captured.out
  haystacks['stderr'] = captured.err
  haystacks['summary'] = json.dumps(summary)

  assert _scan(haystacks) == []

  # The scan looked at real outputs: the expected rows and dead letters are there.
  assert sorted(r['event_id'] for r in rows) == ['e1', 'e2']
  e1 = next(r for r in rows if r['event_id'] == 'e1')
  assert e1['user']['email'] == '***@leak-mail.example'
  assert e1['user']['id'].startswith('k') and ':' in e1['user']['id']
  assert e1['device']['ip'] == '198.51.100.0/24'
  assert str(e1['user']['born']) == '1971-01-01'
  assert 'notes' not in e1 and 'ssn' not in e1
  expected_types = sorted(t for line, t in bad_records() if b'ERASED' not in line)
  assert sorted(d['errorType'] for d in dead) == expected_types
  assert 'Zebulon' not in haystacks.get('error table', haystacks.get('dead-letter files'))
  # Counting invariant with erasure: in == written + dead letters + erased.
  assert summary['records_read'] == len(good_records()) + len(bad_records())
  assert summary['erased'] == 2
  assert summary['records_read'] == (summary['rows_written'] + summary['dead_letters']
                                     + summary['erased'])
  assert summary['rows_written'] == len(rows) == 2


@pytest.mark.parametrize('write_method', ['STREAMING_INSERTS', 'FILE_LOADS'])
def test_output_table_has_the_masked_schema(tmp_path, bigquery_emulator, bq_client, bq_dataset,
                                            monkeypatch, write_method):
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  input_path = write_jsonl(str(tmp_path))
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'policy.yaml').write_text(POLICY)
  files_to_bigquery.run(['--input', input_path, '--schema', str(tmp_path / 'schema.json'),
                         '--output_table', f'{bq_dataset}.events',
                         '--masking_policy', str(tmp_path / 'policy.yaml'),
                         '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
                         '--write_method', write_method,
                         '--temp_location', str(tmp_path / 'tmp')],
                        print_summary=False)
  table = bq_client.get_table(f'{bq_dataset}.events')
  fields = {f.name: f for f in table.schema}
  assert sorted(fields) == ['device', 'event_id', 'items', 'n', 'seen', 'user']
  user = {f.name: (f.field_type, f.mode) for f in fields['user'].fields}
  assert user['born'] == ('DATE', 'NULLABLE') and user['id'] == ('STRING', 'REQUIRED')
  assert [f.name for f in fields['items'].fields] == ['sku', 'gift_for']
  rows = {r['event_id']: dict(r.items()) for r in bq_client.list_rows(table)}
  assert sorted(rows) == ['e1', 'e2', 'e3']  # no erase list in this run
  assert str(rows['e1']['user']['born']) == '1971-01-01'
  assert rows['e1']['items'][0]['gift_for'].startswith('tok_k')


@pytest.mark.parametrize('argv,message', [
    (['--masking_policy', '{policy}'], '--masking_key_source is required'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:NO_SUCH_VAR_WT6'],
     '--masking_key_source: masking key environment variable NO_SUCH_VAR_WT6 is not set'),
    (['--masking_key_source', 'env:X'], '--masking_key_source needs --masking_policy'),
    (['--masking_policy', '/no/policy.yaml', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY'],
     "--masking_policy: cannot read masking policy '/no/policy.yaml'"),
    (['--masking_policy', '{bad_policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY'],
     "--masking_policy: {bad_policy}: field path 'user.emial' is not in the input schema"),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--erase_list', 'x.txt'], '--subject_field is required with --erase_list'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--subject_field', 'user.nope'], "--subject_field: subject field 'user.nope' is not in"),
    (['--dead_letter_payload', 'shred'], '--dead_letter_payload must be one of mask|redact|drop'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--erase_list_refresh_seconds', '-5'], '--erase_list_refresh_seconds must be 0 or positive'),
    (['--masking_policy', '{policy}', '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY',
      '--erase_list', 'bigquery:not a table', '--subject_field', 'user.id'], '--erase_list:'),
])
def test_masking_configuration_errors_exit_2_naming_the_option(tmp_path, capsys, monkeypatch,
                                                               argv, message):
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'policy.yaml').write_text(POLICY)
  (tmp_path / 'bad.yaml').write_text('default: drop\nfields:\n  user.emial: hmac\n')
  subs = {'{policy}': str(tmp_path / 'policy.yaml'), '{bad_policy}': str(tmp_path / 'bad.yaml')}

  def fill(text):
    for k, v in subs.items():
      text = text.replace(k, v)
    return text
  with pytest.raises(SystemExit) as exit_info:
    files_to_bigquery.run(['--input', 'x', '--schema', str(tmp_path / 'schema.json'),
                           '--output_table', 'my-project:d.t'] + [fill(a) for a in argv])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and fill(message) in err[0]


def test_negative_control_the_scan_finds_a_field_the_policy_keeps(tmp_path, bigquery_emulator,
                                                                  bq_client, bq_dataset,
                                                                  monkeypatch):
  # Same run with user.name kept: the scan must find the name, or the leak test proves nothing.
  monkeypatch.setenv('LEAK_TEST_MASKING_KEY', 'leak-test-key-0123456789abcdef')
  input_path = write_jsonl(str(tmp_path))
  (tmp_path / 'schema.json').write_text(json.dumps(SCHEMA))
  (tmp_path / 'policy.yaml').write_text(POLICY.replace('user.name: redact', 'user.name: keep'))
  files_to_bigquery.run(['--input', input_path, '--schema', str(tmp_path / 'schema.json'),
                         '--output_table', f'{bq_dataset}.events',
                         '--masking_policy', str(tmp_path / 'policy.yaml'),
                         '--masking_key_source', 'env:LEAK_TEST_MASKING_KEY'],
                        print_summary=False)
  _, rows_text = _all_rows_text(bq_client, f'{bq_dataset}.events')
  assert _scan({'output table': rows_text}) == [('output table', 'name', PII['name'])]
