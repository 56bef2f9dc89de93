"""The dead-letter record: exactly the DESIGN.md fields, BigQuery JSON values, bounded size."""

import base64

import pytest

from beam_pipelines.transforms.core import dead_letter as errors


def test_record_has_the_eleven_fields_in_table_order():
  record = errors.make_dead_letter(b'x', stage='parse', error_type='invalid_json', message='m')
  assert list(record) == [f['name'] for f in errors.DEAD_LETTER_FIELDS]
  assert [f['name'] for f in errors.DEAD_LETTER_FIELDS][:6] == [
      'timestamp', 'payloadString', 'payloadBytes', 'attributes', 'errorMessage', 'stacktrace']


def test_values_are_bigquery_json():
  record = errors.make_dead_letter(
      b'\xff{bad', stage='validate', error_type='type_mismatch:a', message='a: bad',
      source_id='f:3', attributes={'b': 2, 'a': '1'}, pipeline='p', event_time=0, now=1.5)
  assert record['timestamp'] == '1970-01-01T00:00:01.500000Z'
  assert record['eventTimestamp'] == '1970-01-01T00:00:00.000000Z'
  assert base64.b64decode(record['payloadBytes']) == b'\xff{bad'
  assert record['payloadString'] == '\ufffd{bad'
  assert record['attributes'] == [{'key': 'a', 'value': '1'}, {'key': 'b', 'value': '2'}]


def test_oversized_payload_is_truncated_and_says_so():
  big = b'x' * (errors.MAX_DEAD_LETTER_PAYLOAD_BYTES + 10)
  record = errors.make_dead_letter(big, stage='parse', error_type='payload_too_large',
                                   message='too big')
  assert len(base64.b64decode(record['payloadBytes'])) == errors.MAX_DEAD_LETTER_PAYLOAD_BYTES
  assert 'truncated' in record['errorMessage']


def test_stacktrace_from_exception():
  try:
    raise KeyError('boom')
  except KeyError as e:
    text = errors.format_exception(e)
  assert 'KeyError' in text and 'boom' in text


def test_a_step_of_your_own_names_its_stage():
  record = errors.make_dead_letter(b'x', stage='scoring', error_type='x', message='y')
  assert record['stage'] == 'scoring'


@pytest.mark.parametrize('stage', ['', '   ', 'two\nlines', 'x' * 65, None, 3])
def test_a_stage_that_is_not_a_short_name_is_rejected(stage):
  with pytest.raises(ValueError, match='stage must be a short name'):
    errors.make_dead_letter(b'', stage=stage, error_type='x', message='y')
