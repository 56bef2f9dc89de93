"""ParseAndValidate as a transform: rows and dead letters, with TestPipeline + assert_that."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.validate.parse import ParseAndValidate, ParseConfig
from beam_pipelines.transforms.validate.validator import ValidationPolicy

SCHEMA = [{'name': 'id', 'type': 'INTEGER', 'mode': 'REQUIRED'},
          {'name': 'score', 'type': 'FLOAT'}]


def message(payload, n):
  return RawMessage(payload, {'k': 'v'}, f'src:{n}', 1700000000.0, None)


def check(payloads, rows, dead, config=None):
  """Runs ParseAndValidate and asserts the exact rows and (sourceId, stage, errorType)s."""
  messages = [message(p, i) for i, p in enumerate(payloads)]
  with TestPipeline(runner='FnApiRunner') as p:
    result = p | beam.Create(messages) | ParseAndValidate(SCHEMA, config)
    assert_that(result.rows, equal_to(rows), label='rows')
    assert_that(result.dead_letters
                | beam.Map(lambda d: (d['sourceId'], d['stage'], d['errorType'])),
                equal_to(dead), label='dead')


def test_good_and_bad_records_are_split():
  check(
      [b'{"id": 1, "score": 2.5}', b'{"id": "x"}', b'nope', b'', b'\xff\xfe', b'[1]',
       b'{"id": 2, "score": NaN}', b'{"id": 99999999999999999999}'],
      [{'id': 1, 'score': 2.5}],
      [('src:1', 'validate', 'type_mismatch:id'),
       ('src:2', 'parse', 'invalid_json'),
       ('src:3', 'parse', 'empty_record'),
       ('src:4', 'parse', 'invalid_encoding'),
       ('src:5', 'validate', 'not_an_object'),
       ('src:6', 'validate', 'non_finite:score'),
       ('src:7', 'validate', 'out_of_range:id')])


def test_payload_too_large_and_policy_passthrough():
  check([b'{"id": 1, "pad": "' + b'x' * 100 + b'"}', b'{"id": 2, "extra": 1}'],
        [],
        [('src:0', 'parse', 'payload_too_large'),
         ('src:1', 'validate', 'unknown_field:<unknown#1>')],
        ParseConfig(max_record_bytes=50,
                    policy=ValidationPolicy(unknown_fields='dead_letter')))


def test_deep_nesting_is_a_dead_letter_not_a_crash():
  deep = b'[' * 100000 + b']' * 100000
  check([deep], [], [('src:0', 'parse', 'nesting_too_deep')])


def test_dead_letter_keeps_payload_attributes_and_pipeline_name():
  with TestPipeline(runner='FnApiRunner') as p:
    result = (p | beam.Create([message(b'{"id": "x"}', 7)])
              | ParseAndValidate(SCHEMA, ParseConfig(pipeline_name='my-job')))
    assert_that(result.dead_letters | beam.Map(lambda d: (
        d['payloadString'], d['payloadBytes'], d['attributes'], d['pipeline'],
        'id: expected an integer' in d['errorMessage'])),
                equal_to([('{"id": "x"}', 'eyJpZCI6ICJ4In0=', [{'key': 'k', 'value': 'v'}],
                           'my-job', True)]))


def test_constructor_validates_arguments():
  with pytest.raises(ValueError, match='payload format'):
    ParseConfig(format='xml')
  with pytest.raises(ValueError, match='max_record_bytes'):
    ParseConfig(max_record_bytes=0)
  with pytest.raises(ValueError, match='ParseConfig'):
    ParseAndValidate(SCHEMA, config={'format': 'json'})
  with pytest.raises(ValueError, match='unsupported type'):
    ParseAndValidate([{'name': 'a', 'type': 'NOPE'}])
