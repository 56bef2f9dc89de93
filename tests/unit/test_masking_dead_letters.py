"""MaskDeadLetters: payloads masked by policy, scrubbed, redacted or hashed; messages scrubbed;
pattern redaction."""

import base64
import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from beam_pipelines.transforms.core.dead_letter import make_dead_letter, payload_bytes
from beam_pipelines.transforms.core.messages import raw_message
from beam_pipelines.transforms.masking import MaskingKey
from beam_pipelines.transforms.masking.mask_dead_letters import MaskDeadLetters
from beam_pipelines.transforms.masking.patterns import redact_patterns, scrub_message
from beam_pipelines.transforms.validate.parse import ParseAndValidate

SCHEMA = [
    {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'kind', 'type': 'STRING'},
    {'name': 'born', 'type': 'DATE'},
    {'name': 'n', 'type': 'INT64'},
    {'name': 'user', 'type': 'RECORD', 'fields': [
        {'name': 'email', 'type': 'STRING'}, {'name': 'name', 'type': 'STRING'}]},
]
POLICY = {'default': 'drop', 'fields': {
    'id': 'hmac', 'kind': 'keep', 'n': 'keep', 'born': {'method': 'generalize', 'to': 'year'},
    'user.email': {'method': 'partial', 'keep': 'email_domain'}, 'user.name': 'redact'}}
KEY = MaskingKey('env:X', b'dead-letter-test-key-0123456789')
PII = ['SUBJ-98765', 'Marguerite Yourcenar', 'marguerite@example.com', '1903-06-08',
       'secret-extra']


_CAPTURED = []  # FnApiRunner runs in this process: a module-level list collects outputs


def _capture(elements):
  _CAPTURED.extend(elements)


def run_masking(payloads, mode='mask', stage='validate', message='bad record', erase=None):
  records = [make_dead_letter(p, stage=stage, error_type='x', message=message,
                              source_id=f'f:{i}', attributes={'file': '/data/f.jsonl'})
             for i, p in enumerate(payloads)]
  del _CAPTURED[:]
  with beam.Pipeline('FnApiRunner') as p:
    out = (p | beam.Create(records)
           | MaskDeadLetters(SCHEMA, POLICY, KEY, mode=mode, subject_field='id',
                             erase_ids=erase))
    assert_that(out, _capture)
  return sorted(_CAPTURED, key=lambda r: r['sourceId'])


def assert_no_pii(records):
  text = json.dumps(records, ensure_ascii=False)
  for record in records:
    text += payload_bytes(record).decode('utf-8', 'replace')
  for value in PII:
    assert value not in text, value


GOOD_JSON = json.dumps({'id': 'SUBJ-98765', 'kind': 'signup', 'born': '1903-06-08', 'n': 'x',
                        'user': {'email': 'marguerite@example.com',
                                 'name': 'Marguerite Yourcenar'}, 'extra': 'secret-extra'})


def test_parseable_payload_is_masked_with_the_policy():
  [out] = run_masking([GOOD_JSON])
  masked = json.loads(out['payloadString'])
  assert masked['id'].startswith(KEY.key_id + ':')
  assert masked['kind'] == 'signup' and masked['born'] == '1903-01-01'
  # 'keep' covers valid values: 'x' is not an INT64, so in a dead letter it is redacted
  assert masked['n'] == '[REDACTED]'
  assert masked['user'] == {'email': '***@example.com', 'name': '[REDACTED]'}
  assert 'extra' not in masked  # unknown field, default drop
  assert payload_bytes(out).decode() == out['payloadString']
  attributes = {a['key']: a['value'] for a in out['attributes']}
  assert attributes['masking_key_id'] == KEY.key_id
  assert attributes['payload_masking'] == 'policy' and attributes['file'] == '/data/f.jsonl'
  assert_no_pii([out])


def test_wrong_types_in_a_raw_payload_are_redacted_not_passed_through():
  payload = json.dumps({'id': {'nested': 'SUBJ-98765'}, 'born': 19030608,
                        'user': {'email': ['marguerite@example.com']}, 'kind': 'a@b.example'})
  [out] = run_masking([payload])
  masked = json.loads(out['payloadString'])
  assert masked['id'] == '[REDACTED]' and masked['born'] == '[REDACTED]'
  assert masked['user']['email'] == '[REDACTED]'
  assert masked['kind'] == '[EMAIL]'  # kept fields are still pattern-redacted
  assert '19030608' not in out['payloadString']


def test_kept_values_that_are_valid_stay_readable():
  [out] = run_masking([json.dumps({'id': 'a', 'kind': 'signup', 'n': 42})])
  masked = json.loads(out['payloadString'])
  assert masked['n'] == 42 and masked['kind'] == 'signup'


def test_truncated_json_is_scrubbed_token_by_token():
  truncated = GOOD_JSON[:GOOD_JSON.index('Yourcenar') + 3]
  [out] = run_masking([truncated.encode() + b'\xff'])
  assert out['payloadString'].startswith('{"id": "[REDACTED]", "kind": "signup"')
  assert [a['value'] for a in out['attributes'] if a['key'] == 'payload_masking'] == [
      'scrubbed']
  assert_no_pii([out])
  assert 'Marguerite' not in out['payloadString'] and 'You' not in out['payloadString']


def test_non_json_payload_is_hashed_in_mask_mode():
  [out] = run_masking([b'SUBJ-98765,Marguerite Yourcenar,1903-06-08'])
  assert out['payloadString'].startswith(f'hmac-sha256:{KEY.key_id}:')
  assert_no_pii([out])


def test_drop_mode_keeps_only_a_keyed_hash_and_equal_payloads_hash_equal():
  a, b = run_masking([GOOD_JSON, GOOD_JSON], mode='drop')
  assert a['payloadString'] == b['payloadString']
  assert a['payloadString'].startswith(f'hmac-sha256:{KEY.key_id}:')
  assert len(a['payloadString'].rsplit(':', 1)[1]) == 64
  assert base64.b64decode(a['payloadBytes']).decode() == a['payloadString']
  assert_no_pii([a, b])


def test_redact_mode_removes_patterns_only():
  [out] = run_masking(['mail marguerite@example.com or +33 1 42 68 53 00, card '
                       '4111 1111 1111 1111, iban FR14 2004 1010 0505 0001 3M02 606, ip '
                       '198.51.100.7 / 2001:db8::42, name Marguerite'], mode='redact')
  assert out['payloadString'] == ('mail [EMAIL] or [PHONE], card [CARD], iban [IBAN], ip '
                                  '[IP] / [IP], name Marguerite')


def test_error_messages_lose_quoted_values_and_payload_values():
  message = ("born: '1903-06-08' is not a DATE; id: SUBJ-98765 bad; user.name: "
             "'Marguerite Yourcenar is a very long value that is cut...")
  [out] = run_masking([GOOD_JSON], message=message)
  assert out['errorMessage'].startswith('born: ') and 'is not a DATE' in out['errorMessage']
  assert_no_pii([out])


def test_real_validation_messages_for_bad_values_do_not_leak():
  del _CAPTURED[:]
  records = _CAPTURED
  schema = [{'name': 'born', 'type': 'DATE'}, {'name': 'ts', 'type': 'TIMESTAMP'},
            {'name': 'id', 'type': 'STRING', 'mode': 'REQUIRED'}]
  lines = [json.dumps({'id': 'x', 'born': '1903-13-08-Marguerite'}),
           json.dumps({'id': 'x', 'ts': '2001-02-03 04:05 Yourcenar'})]
  with beam.Pipeline('FnApiRunner') as p:
    parsed = (p | beam.Create([raw_message(x, f's:{i}') for i, x in enumerate(lines)])
              | ParseAndValidate(schema))
    masked = parsed.dead_letters | MaskDeadLetters(
        schema, {'default': 'drop', 'fields': {'id': 'keep'}}, KEY)
    assert_that(masked, _capture)
  assert len(records) == 2
  for record in records:
    assert 'invalid_value' in record['errorType']
    assert 'Marguerite' not in record['errorMessage'] + record['payloadString']
    assert 'Yourcenar' not in record['errorMessage'] + record['payloadString']


def test_later_stage_payloads_are_not_masked_twice():
  already = json.dumps({'id': f'{KEY.key_id}:abc', 'kind': 'signup'})
  [out] = run_masking([already], stage='sink', message='row rejected: marguerite@example.com')
  assert out['payloadString'] == already
  assert out['errorMessage'] == 'row rejected: [EMAIL]'
  [out] = run_masking([json.dumps({'kind': 'x@example.com'})], stage='sink')
  assert out['payloadString'] == '{"kind": "[EMAIL]"}' == payload_bytes(out).decode()


def test_dead_letters_of_erased_subjects_are_dropped():
  other = GOOD_JSON.replace('SUBJ-98765', 'SUBJ-1')
  truncated = GOOD_JSON[:60]
  out = run_masking([GOOD_JSON, other, truncated], erase={'SUBJ-98765'})
  assert len(out) == 1 and json.loads(out[0]['payloadString'])['kind'] == 'signup'


def test_bad_mode_is_refused():
  with pytest.raises(ValueError, match="dead_letter_payload must be one of"):
    MaskDeadLetters(SCHEMA, POLICY, KEY, mode='shred')


@pytest.mark.parametrize('text,expected', [
    ('a.b+c@sub.example.co.uk', '[EMAIL]'),
    ('4111111111111111', '[CARD]'),
    ('4111111111111112', '4111111111111112'),  # fails Luhn: not a card, too long for a phone
    ('DE89370400440532013000', '[IBAN]'),
    ('DE89370400440532013001', 'DE89370400440532013001'),  # bad checksum
    ('10.1.2.3', '[IP]'),
    ('fe80::1ff:fe23:4567:890a', '[IP]'),
    ('+1 (555) 010-9999', '[PHONE]'),
    ('2026-11-01T00:00:07.000Z', '2026-11-01T00:00:07.000Z'),
    ('15:53:00', '15:53:00'),
    ('amount 2373.21', 'amount 2373.21'),
    ('/tmp/x/events.jsonl:12', '/tmp/x/events.jsonl:12'),
])
def test_patterns(text, expected):
  assert redact_patterns(text) == expected


def test_scrub_message_keeps_structure():
  assert scrub_message("a.b: 'x' is bad; c: \"y\"") == "a.b: '[REDACTED]' is bad; c: '[REDACTED]'"
  assert scrub_message(None) is None


def test_kept_paths_are_the_kept_fields_by_place():
  from beam_pipelines.transforms.masking.binding import bind_policy
  schema = [{'name': 'id', 'type': 'STRING'},
            {'name': 'a', 'type': 'RECORD', 'fields': [{'name': 'secret', 'type': 'STRING'},
                                                       {'name': 'tag', 'type': 'STRING'}]},
            {'name': 'b', 'type': 'RECORD', 'fields': [{'name': 'tag', 'type': 'STRING'},
                                                       {'name': 'label', 'type': 'STRING'}]},
            {'name': 'label', 'type': 'STRING'}]
  bound = bind_policy({'default': 'keep', 'fields': {'a': 'drop', 'label': 'redact'}}, schema)
  # a is dropped; the top-level label is redacted, b.label is kept (by default)
  assert set(bound.kept_paths()) == {'id', 'b.tag', 'b.label'}
  bound = bind_policy({'default': 'drop', 'fields': {'b': 'keep', 'id': 'keep'}}, schema)
  assert set(bound.kept_paths()) == {'id', 'b.tag', 'b.label'}  # not a.tag, not label
  assert bound.known_paths() == {'id', 'a', 'a.secret', 'a.tag', 'b', 'b.tag', 'b.label',
                                 'label'}


def _property_fn(mode):
  from beam_pipelines.transforms.masking.binding import bind_policy
  from beam_pipelines.transforms.masking.mask_dead_letters import MaskDeadLettersFn
  fn = MaskDeadLettersFn(bind_policy(POLICY, SCHEMA), KEY, mode, 'id', None)
  fn.setup()
  return fn


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# PII values carry the marker "PII" (absent from field names, pseudonyms, tokens and the
# redaction strings): any "PII" in the output is (part of) a leaked value.
_pii_value = st.text(alphabet=st.characters(blacklist_categories=('Cs',)),
                     min_size=0, max_size=20).map(lambda s: 'PII' + s)


@settings(max_examples=150, deadline=None)
@given(subject=_pii_value, name=_pii_value, email_local=_pii_value, extra=_pii_value,
       cut=st.integers(0, 400), garbage=st.binary(max_size=8), quoted=st.booleans())
def test_property_dead_letter_masking_never_emits_pii(subject, name, email_local, extra, cut,
                                                      garbage, quoted):
  record = {'id': subject, 'kind': 'signup', 'born': '1903-06-08',
            'user': {'email': email_local + '@example.com', 'name': name}, 'extra': extra}
  payload = json.dumps(record, ensure_ascii=False).encode('utf-8')
  truncated = cut < len(payload)
  payload = payload[:cut] + garbage if truncated else payload
  # Validation quotes bad values with bq_types._preview (a repr, maybe cut at 40 characters);
  # an unquoted value can only come from the payload itself, so only with a whole payload.
  from beam_pipelines.transforms.validate.field_error import preview
  if quoted or truncated:
    message = f'user.name: {preview(name)} is bad; id: {preview(subject)} too'
  else:
    message = f'id: {subject} is bad'
  dead = make_dead_letter(payload, stage='validate', error_type='x', message=message)
  for mode in ('mask', 'drop'):
    [out] = list(_property_fn(mode).process(dead))
    text = json.dumps(out, ensure_ascii=False) + payload_bytes(out).decode('utf-8', 'replace')
    assert 'PII' not in text, (mode, text)


def test_scrub_message_pairs_quotes_around_long_values():
  # A list repr (an exception message) whose first value is long: the quotes must still pair
  # up value by value, or the second value ends up outside quotes.
  text = scrub_message("header: ['" + 'x' * 70 + "', 'Marguerite Yourcenar']")
  assert text == "header: ['[REDACTED]', '[REDACTED]']"


def test_scrub_message_handles_a_preview_cut_right_after_a_backslash():
  # Found by the property test: preview cut the repr after a backslash ("...\" + "...").
  from beam_pipelines.transforms.validate.field_error import preview
  value = 'PII00000\U00012544\U00018cd6\U00018d09\x1f'
  message = f'user.name: {preview(value)} is bad; id: {preview("PII")} too'
  assert 'PII' not in scrub_message(message)


# ---- CSV payloads --------------------------------------------------------------------------

from beam_pipelines.transforms.read.formats.csv_format import CsvFormat  # noqa: E402

CSV_HEADER = ['id', 'kind', 'born', 'n', 'extra']


def run_csv_masking(payloads, mode='mask', columns=CSV_HEADER, csv=None, stage='validate',
                    message='bad record', erase=None, attributes=None):
  attrs = {'file': '/data/f.csv', 'format': 'csv'}
  if columns is not None:
    attrs['csv_columns'] = json.dumps(columns)
  attrs.update(attributes or {})
  records = [make_dead_letter(p, stage=stage, error_type='x', message=message,
                              source_id=f'f:{i}', attributes=attrs)
             for i, p in enumerate(payloads)]
  del _CAPTURED[:]
  with beam.Pipeline('FnApiRunner') as p:
    out = (p | beam.Create(records)
           | MaskDeadLetters(SCHEMA, POLICY, KEY, mode=mode, subject_field='id',
                             erase_ids=erase, csv=csv))
    assert_that(out, _capture)
  return sorted(_CAPTURED, key=lambda r: r['sourceId'])


def _csv_cells(record):
  import csv
  import io
  columns = json.loads({a['key']: a['value'] for a in record['attributes']}['csv_columns'])
  [cells] = list(csv.reader(io.StringIO(record['payloadString'])))
  return dict(zip(columns, cells, strict=True))


def test_csv_payload_is_masked_with_the_policy_and_written_back_as_csv():
  [out] = run_csv_masking([b'SUBJ-98765,"signup, ""web""",1903-06-08,42,secret-extra'])
  attributes = {a['key']: a['value'] for a in out['attributes']}
  assert attributes['payload_masking'] == 'policy'
  # 'extra' is not in the schema (default drop): gone from the payload and the header
  assert json.loads(attributes['csv_columns']) == ['id', 'kind', 'born', 'n']
  cells = _csv_cells(out)
  assert cells['id'].startswith(KEY.key_id + ':') and cells['born'] == '1903-01-01'
  assert cells['kind'] == 'signup, "web"'  # kept, quoted back correctly
  assert cells['n'] == '42'  # a kept INT64 cell is text: "42" is a valid value, kept
  assert payload_bytes(out).decode() == out['payloadString']
  assert_no_pii([out])


def test_csv_kept_cells_that_are_not_valid_for_their_type_are_redacted():
  [out] = run_csv_masking([b'a,signup,,Marguerite Yourcenar,x'])
  cells = _csv_cells(out)
  assert cells['n'] == '[REDACTED]'  # a name in an INT64 column is not a valid kept value
  assert cells['born'] == ''  # an empty non-STRING cell is NULL, written back empty
  assert_no_pii([out])


def test_csv_columns_from_the_configured_format_and_delimiter():
  fmt = CsvFormat(delimiter=';', header=False, columns=('kind', 'id', 'user'))
  [out] = run_csv_masking([b'signup;SUBJ-98765;Marguerite Yourcenar'], columns=None, csv=fmt,
                          attributes={'format': 'csv'})
  assert out['payloadString'].startswith('signup;' + KEY.key_id + ':')
  # 'user' is a RECORD: a cell cannot be a valid RECORD value, so it is redacted
  assert out['payloadString'].endswith(';[REDACTED]')
  assert_no_pii([out])


@pytest.mark.parametrize('payload', [
    b'SUBJ-98765,signup,1903-06-08,42,secret-extra,Marguerite Yourcenar',  # 6 cells
    b'SUBJ-98765,"Marguerite" Yourcenar,1903-06-08,42,x',  # stray quote
    b'SUBJ-98765,signup,1903-06-08,42,"Marguerite Yourcenar',  # unterminated quote
    b'SUBJ-98765,signup,1903-06-08,42,Marguerite Yourcenar\xff',  # not UTF-8
])
def test_csv_payload_that_does_not_map_onto_its_columns_is_hashed(payload):
  # Its cells cannot be told apart: none is kept. The message loses every cell value.
  message = 'got SUBJ-98765 and Marguerite Yourcenar at 1903-06-08'
  [out] = run_csv_masking([payload], message=message)
  assert out['payloadString'].startswith(f'hmac-sha256:{KEY.key_id}:')
  assert out['errorMessage'].startswith('got [REDACTED] and')
  assert_no_pii([out])


def test_csv_payload_without_column_names_is_hashed():
  [out] = run_csv_masking([b'SUBJ-98765,signup'], columns=None)
  assert out['payloadString'].startswith(f'hmac-sha256:{KEY.key_id}:')


def test_csv_payloads_of_erased_subjects_are_dropped_even_when_unmappable():
  out = run_csv_masking([b'SUBJ-98765,signup,,,',            # maps: subject column
                         b'x,SUBJ-98765,too,many,cells,here',  # does not map: any cell
                         b'SUBJ-1,signup,,,'], erase={'SUBJ-98765'})
  assert len(out) == 1 and _csv_cells(out[0])['kind'] == 'signup'


def test_csv_redact_and_drop_modes():
  payload = b'SUBJ-98765,signup,1903-06-08,42,marguerite@example.com'
  [out] = run_csv_masking([payload], mode='redact')
  assert out['payloadString'] == 'SUBJ-98765,signup,1903-06-08,42,[EMAIL]'
  [out] = run_csv_masking([payload], mode='drop')
  assert out['payloadString'].startswith(f'hmac-sha256:{KEY.key_id}:')


def test_json_payloads_of_a_csv_pipeline_stay_json():
  # Avro/Parquet/JSONL records say format: ...; they are not read as CSV.
  [out] = run_csv_masking([GOOD_JSON], columns=None, csv=CsvFormat(),
                          attributes={'format': 'parquet'})
  assert json.loads(out['payloadString'])['kind'] == 'signup'
  assert_no_pii([out])


def test_a_kept_record_that_is_not_an_object_is_redacted():
  from beam_pipelines.transforms.masking.binding import bind_policy
  from beam_pipelines.transforms.masking.keys import DerivedKeys
  from beam_pipelines.transforms.masking.maskers import compile_lenient_masker
  bound = bind_policy({'default': 'drop', 'fields': {'id': 'keep', 'user': 'keep'}}, SCHEMA)
  mask = compile_lenient_masker(bound, DerivedKeys(KEY))
  assert mask({'id': 'a', 'user': 'Marguerite Yourcenar'}) == {'id': 'a',
                                                               'user': '[REDACTED]'}
  assert mask({'user': {'name': 'M'}}) == {'user': {'name': 'M'}}
