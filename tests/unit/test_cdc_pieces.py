"""The small pieces of CDC: configs that refuse bad arguments by name, change rows and their
identity, the tables' schemas, the merge script's shape, and SplitChanges / DecodeChanges on
the FnApiRunner (counters included)."""

import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.transforms.cdc import (ChangeFormatConfig, DecodeChanges, MergeConfig,
                                           SplitChanges, changelog_schema, check_row_schema,
                                           history_schema, replica_schema, to_changelog_row)
from beam_pipelines.transforms.cdc.merge_sql import merge_script
from beam_pipelines.transforms.cdc.storage_write import change_sequence_number
from beam_pipelines.transforms.core import raw_message
from beam_pipelines.transforms.validate import load_schema

from cdc_events import SCHEMA, debezium, postgres_source

MERGE = dict(replica='my-project:ds.r', changelog='my-project:ds.r_log', primary_key=('id',),
             staging_location='/tmp/x')


@pytest.mark.parametrize('changes,match', [
    (dict(interval_seconds=0), 'interval_seconds must be a positive number'),
    (dict(max_changes=0), 'max_changes must be a whole number'),
    (dict(history='my-project.ds.r'), 'three different tables'),
    (dict(replica='not a table'), 'not a valid replica spec'),
    (dict(staging_location=''), 'staging_location is required'),
    (dict(primary_key=()), 'primary_key must name at least one column'),
    (dict(retry_budget_seconds=-1), 'retry_budget_seconds'),
])
def test_merge_config_names_the_bad_argument(changes, match):
  with pytest.raises(ValueError, match=match):
    MergeConfig(**dict(MERGE, **changes))


def test_row_schema_checks_and_table_schemas():
  assert check_row_schema(SCHEMA, ('ID',)) == ('id',)  # the schema's spelling
  with pytest.raises(ValueError, match='reserve'):
    check_row_schema(SCHEMA + [{'name': '_CDC_ORDER', 'type': 'STRING'}], ('id',))
  with pytest.raises(ValueError, match='key column must be a single'):
    check_row_schema(SCHEMA + [{'name': 'tags', 'type': 'STRING', 'mode': 'REPEATED'}],
                     ('tags',))
  schema = load_schema(SCHEMA)
  log = changelog_schema(schema)
  assert all(f.mode != 'REQUIRED' for f in log.fields[:len(SCHEMA)])  # a delete: key only
  assert [f.name for f in replica_schema(schema).fields][-3:] == [
      '_cdc_op', '_cdc_order', '_cdc_source_ts']
  assert [(f.name, f.mode) for f in history_schema(schema).fields][-6:-3] == [
      ('valid_from', 'REQUIRED'), ('valid_to', 'NULLABLE'), ('is_current', 'REQUIRED')]


def _change_row(op, key, order):
  row = {} if op == 't' else {'id': key, 'name': 'n'}
  row['_cdc'] = {'op': op, 'order': order, 'position': {}, 'source_ts': None, 'source': {},
                 'source_id': 's', 'read_at': None}
  return row


def test_change_identity_is_key_and_order():
  a = to_changelog_row(_change_row('u', 1, '2011'), ('id',))
  b = to_changelog_row(dict(_change_row('u', 1, '2011'), name='other'), ('id',))
  c = to_changelog_row(_change_row('u', 2, '2011'), ('id',))
  t = to_changelog_row(_change_row('t', None, '2011'), ('id',))
  assert a['_cdc_key'] == '[1]' and t['_cdc_key'] is None
  assert a['_cdc_change_id'] == b['_cdc_change_id'] != c['_cdc_change_id']
  assert t['_cdc_change_id'] not in (a['_cdc_change_id'], c['_cdc_change_id'])
  with pytest.raises(ValueError, match='lost its primary key'):
    to_changelog_row(dict(_change_row('u', None, '2011')), ('id',))


def test_merge_script_is_one_transaction_with_optional_parts():
  plain = merge_script(['id', 'name'], ['id'], 'p.d.l', 'p.d.r')
  assert plain.count('BEGIN TRANSACTION;') == 1 and plain.count('COMMIT TRANSACTION;') == 1
  assert plain.index('BEGIN TRANSACTION;') < plain.index('MERGE') < plain.index('COMMIT')
  assert 'p.d.h' not in plain and 'CROSS JOIN' not in plain
  full = merge_script(['id', 'name'], ['id'], 'p.d.l', 'p.d.r', 'p.d.h', apply_truncate=True)
  assert 'DELETE FROM `p.d.h`' in full and 'CROSS JOIN' in full
  assert full.rstrip().endswith('SELECT applied, touched AS keys;')
  with pytest.raises(ValueError, match='primary_key'):
    merge_script(['name'], ['id'], 'p.d.l', 'p.d.r')


def test_change_sequence_numbers_follow_the_order():
  first = change_sequence_number({'source_ts_ns': 5, 'file': 'mysql-bin.000009', 'pos': 10})
  second = change_sequence_number({'source_ts_ns': 5, 'file': 'mysql-bin.000010', 'pos': 4})
  assert first == '5/9/A' and second == '5/A/4'
  assert change_sequence_number({'a': 1, 'b': 2, 'c': 3, 'd': 4, 'e': 5}) == '1/2/3/4'


def test_decode_and_split_on_the_runner():
  messages = [
      raw_message(debezium('c', after={'id': 1}, source=postgres_source(1, 1)), 'f:1'),
      raw_message(debezium('d', before={'id': 1}, source=postgres_source(2, 2)), 'f:2'),
      raw_message(debezium('t', source=postgres_source(3, 3)), 'f:3'),
      raw_message('null', 'f:4'),
      raw_message(json.dumps({'op': 'q', 'source': {'ts_ms': 1}}), 'f:5'),
  ]
  options = PipelineOptions(['--runner=FnApiRunner'])
  with beam.Pipeline(options=options) as p:
    decoded = (p | beam.Create(messages)
               | DecodeChanges(ChangeFormatConfig(primary_key=('id',), apply_truncate=True),
                               SCHEMA))
    split = decoded.rows | SplitChanges()
    assert_that(split.upserts | 'U' >> beam.Map(lambda r: (r['id'], r['_cdc']['op'])),
                equal_to([(1, 'c')]), label='upserts')
    assert_that(split.deletes | 'D' >> beam.Map(lambda r: r['id']), equal_to([1]),
                label='deletes')
    assert_that(split.truncates | 'T' >> beam.Map(lambda r: sorted(r)), equal_to([['_cdc']]),
                label='truncates')
    assert_that(decoded.dead_letters | beam.Map(lambda d: (d['errorType'], d['sourceId'])),
                equal_to([('cdc_unknown_op', 'f:5')]), label='dead')
  counters = {r.key.metric.name: r.committed for r in p.result.metrics().query()['counters']}
  assert (counters['tombstones'], counters['changes_c'], counters['changes_d'],
          counters['changes_t']) == (1, 1, 1, 1)


def test_dead_letter_envelopes_are_masked_row_by_row():
  """MaskDeadLetters(row_paths=...) on a Debezium envelope: the rows inside by the policy,
  the envelope's own fields by the policy's default (here drop), erased subjects dropped."""
  from beam_pipelines.transforms.core import make_dead_letter
  from beam_pipelines.transforms.masking import MaskDeadLetters, MaskingKey
  from beam_pipelines.transforms.cdc.formats import row_paths
  policy = {'default': 'drop', 'fields': {'id': 'keep', 'name': 'redact'}}
  key = MaskingKey('env:X', b'cdc-envelope-test-key-0123456789')
  envelope = {'payload': {'op': 'u', 'after': {'id': 7, 'name': 'Marguerite'},
                          'before': {'id': 7, 'name': 'Margot'},
                          'source': {'query': 'UPDATE t SET name = "Marguerite"'}}}
  erased = {'key': {'id': 99}, 'value': {'op': 'd', 'before': None}}
  letters = [make_dead_letter(json.dumps(p), stage='validate', error_type='x', message='m')
             for p in (envelope, erased)]
  with beam.Pipeline(options=PipelineOptions(['--runner=FnApiRunner'])) as p:
    masked = (p | beam.Create(letters)
              | MaskDeadLetters(SCHEMA, policy, key, subject_field='id', erase_ids=['99'],
                                row_paths=row_paths('debezium')))
    assert_that(masked | beam.Map(lambda d: json.loads(d['payloadString'])), equal_to([
        {'payload': {'after': {'id': 7, 'name': '[REDACTED]'},
                     'before': {'id': 7, 'name': '[REDACTED]'}}}]))


def test_the_summary_counts_pubsub_deduplication_as_read_duplicates():
  from beam_pipelines.runtime.cdc_summary import cdc_summary
  counters = {('read', 'records'): 8, ('dedup', 'duplicates'): 2, ('cdc', 'applied'): 5,
              ('cdc', 'duplicates'): 1, ('cdc', 'tombstones'): 1, ('dead_letters', 'total'): 1}
  summary = cdc_summary(counters)
  assert summary['cdc']['changes_read'] == 10 and summary['cdc']['duplicates'] == 3
  assert summary['counting_invariant'] == {'read': 10, 'accounted': 10, 'holds': True}
  assert summary['rows_written'] == 5
  counters[('cdc', 'applied')] = 4  # a change lost somewhere: the check says so
  assert not cdc_summary(counters)['counting_invariant']['holds']
