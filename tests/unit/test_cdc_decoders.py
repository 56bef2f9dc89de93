"""The three change formats: operations, keys, tombstones, errors and the ordering rules."""

import json

import pytest

from beam_pipelines.transforms.cdc import ChangeError, ChangeFormatConfig, encode_order
from beam_pipelines.transforms.cdc.formats import make_decoder

from cdc_events import (SCHEMA, datastream_raw, debezium, decimal_b64, generic, mysql_source,
                        postgres_source)


def decoder(**config):
  config.setdefault('primary_key', ('id',))
  config.setdefault('key_attribute', 'ordering_key')
  return make_decoder(ChangeFormatConfig(**config), SCHEMA)


def decode(text, attributes=None, **config):
  payload = text.encode('utf-8') if isinstance(text, str) else text
  return decoder(**config).decode(payload, attributes or {})


def error_of(text, attributes=None, **config):
  with pytest.raises(ChangeError) as caught:
    decode(text, attributes, **config)
  return caught.value.error_type


ROW = {'id': 1, 'name': 'Ada', 'balance': decimal_b64(12345), 'born': 1, 'seen': 5_000_000}


# ---- Debezium -------------------------------------------------------------------------------

def test_debezium_envelope_with_schema_decodes_connect_types():
  change = decode(debezium('c', after=ROW, source=postgres_source(1000, 77), ts_ms=1003,
                           envelope=True))
  assert change.op == 'c'
  assert change.image == {'id': 1, 'name': 'Ada', 'balance': '123.45', 'born': '1970-01-02',
                          'seen': '1970-01-01T00:00:05.000000Z'}
  assert change.position == {'source_ts_ns': 10 ** 9, 'lsn': 77, 'ts_ns': 1_003_000_000}
  assert change.order == encode_order([10 ** 9, 77, 1_003_000_000])
  assert change.source_ts_us == 1_000_000
  assert change.source['connector'] == 'postgresql' and change.source['op'] == 'c'


@pytest.mark.parametrize('text', [
    b'', b'  ', b'null', b'{"schema": null, "payload": null}', b'{"key": {"id": 1}, "value": null}',
])
def test_tombstones_are_skipped(text):
  assert decode(text).kind == 'tombstone'


def test_logical_decoding_messages_are_skipped():
  assert decode(json.dumps({'op': 'm', 'source': {'ts_ms': 1}, 'message': {}})).kind == \
      'message'


@pytest.mark.parametrize('text,error_type', [
    ('{"op": "c", "after": {"id": 1', 'invalid_json'),
    ('[1, 2]', 'cdc_malformed_envelope'),
    ('{"after": {"id": 1}, "source": {"ts_ms": 1}}', 'cdc_malformed_envelope'),
    ('{"op": "x", "after": {"id": 1}, "source": {"ts_ms": 1}}', 'cdc_unknown_op'),
    ('{"op": "u", "after": null, "source": {"ts_ms": 1}}', 'cdc_missing_after'),
    ('{"op": "c", "source": {"ts_ms": 1}}', 'cdc_missing_after'),
    ('{"op": "c", "after": {"id": 1}}', 'cdc_missing_order'),
    ('{"op": "c", "after": {"id": 1}, "source": "mysql"}', 'cdc_malformed_envelope'),
    ('{"op": "c", "after": {"id": 1}, "source": {"ts_ms": 1, "lsn": "zz"}}',
     'cdc_malformed_envelope'),
    ('{"op": "t", "source": {"ts_ms": 1, "lsn": 5}}', 'cdc_truncate'),
])
def test_bad_debezium_records_have_stable_error_types(text, error_type):
  assert error_of(text) == error_type


def test_truncate_is_a_change_when_applied():
  change = decode('{"op": "t", "source": {"ts_ms": 1, "lsn": 5}}', apply_truncate=True)
  assert change.op == 't' and change.image is None


@pytest.mark.parametrize('record,attributes', [
    (debezium('d', source=postgres_source(9, 9), key={'id': 7}), {}),
    (debezium('d', source=postgres_source(9, 9),
              key={'schema': {'type': 'struct', 'fields': [{'type': 'int64', 'field': 'id'}]},
                   'payload': {'id': 7}}), {}),
    (debezium('d', source=postgres_source(9, 9)), {'ordering_key': '{"id":7}'}),
    (debezium('d', source=postgres_source(9, 9)), {'ordering_key': '7'}),
])
def test_a_delete_without_before_takes_its_key_from_the_message_key(record, attributes):
  change = decode(record, attributes)
  assert change.op == 'd' and change.image is None and change.key_image == {'id': 7}


def test_mysql_orders_by_file_position_and_row_and_snapshot_rows_stay_distinct():
  first = decode(debezium('r', after={'id': 1}, source=mysql_source(0, 'mysql-bin.000003', 154,
                                                                    snapshot='true'),
                          ts_ms=1_000))
  second = decode(debezium('r', after={'id': 2}, source=mysql_source(0, 'mysql-bin.000003', 154,
                                                                     snapshot='last'),
                           ts_ms=1_001))
  streamed = decode(debezium('u', after={'id': 1}, source=mysql_source(900, 'mysql-bin.000003',
                                                                       400), ts_ms=950))
  next_file = decode(debezium('u', after={'id': 1}, source=mysql_source(900, 'mysql-bin.000004',
                                                                        4), ts_ms=950))
  assert first.position == {'source_ts_ns': 0, 'file': 'mysql-bin.000003', 'pos': 154,
                            'row': 0, 'ts_ns': 1_000_000_000}
  # Same source time and position: the event time tells the snapshot rows apart.
  assert first.order < second.order < streamed.order < next_file.order
  # source.ts_ms 0: the history's valid_from falls back to the event time.
  assert first.source_ts_us == 1_000_000
  assert 'query' not in first.source  # SQL text with row values is not kept


def test_the_finest_source_time_wins_and_orders_within_a_millisecond():
  coarse = decode(debezium('u', after={'id': 1}, source={'ts_ms': 5, 'lsn': 1}))
  fine = decode(debezium('u', after={'id': 1}, source={'ts_ms': 5, 'ts_us': 5_400,
                                                       'ts_ns': 5_400_123, 'lsn': 2}))
  assert fine.position['source_ts_ns'] == 5_400_123 and fine.source_ts_us == 5_400
  assert coarse.order < fine.order


def test_oracle_scn_text_and_sql_server_lsns_order_numerically_and_textually():
  low = decode(debezium('u', after={'id': 1}, source={'ts_ms': 5, 'scn': '999'}))
  high = decode(debezium('u', after={'id': 1}, source={'ts_ms': 5, 'scn': '1000'}))
  assert low.order < high.order  # as numbers: '999' < '1000'
  first = decode(debezium('u', after={'id': 1}, source={
      'ts_ms': 5, 'commit_lsn': '00000025:00000d98:0002',
      'change_lsn': '00000025:00000d98:0001', 'event_serial_no': 1}))
  second = decode(debezium('u', after={'id': 1}, source={
      'ts_ms': 5, 'commit_lsn': '00000025:00000d98:0002',
      'change_lsn': '00000025:00000d98:0001', 'event_serial_no': 2}))
  assert first.order < second.order


def test_postgres_lsn_text_is_read_as_a_number():
  assert decode(debezium('u', after={'id': 1}, source={'ts_ms': 5, 'lsn': '16/B374D848'})
                ).position['lsn'] == (0x16 << 32) | 0xB374D848


# ---- Datastream ------------------------------------------------------------------------------

def test_datastream_mysql_record_orders_like_the_template():
  row = {'id': 1, 'name': 'Ada'}
  insert = decode(datastream_raw(row, 1000, log_file='mysql-bin.000001', log_position=7),
                  format='datastream', key_attribute=None)
  assert insert.op == 'c' and insert.image == row
  assert insert.position == {'source_timestamp_ms': 1000, 'log_file': 'mysql-bin.000001',
                             'log_position': 7, 'is_deleted': 0}
  delete = decode(datastream_raw(row, 1000, change_type='DELETE', is_deleted=True,
                                 log_file='mysql-bin.000001', log_position=7),
                  format='datastream', key_attribute=None)
  assert delete.op == 'd' and delete.order > insert.order  # a delete wins a tie
  backfill = decode(datastream_raw(row, 900, backfill=True), format='datastream',
                    key_attribute=None)
  assert backfill.op == 'r'


def test_datastream_postgres_oracle_and_staged_forms():
  pg = decode(datastream_raw({'id': 1}, 1000, source_type='postgresql', change_type='UPDATE',
                             lsn='0/1A'), format='datastream', key_attribute=None)
  assert pg.op == 'u' and pg.position['lsn'] == 26
  oracle = decode(datastream_raw({'id': 1}, '2021-12-25T05:42:04.408', source_type='oracle',
                                 scn=1706664, rs_id='0x0001', ssn=3),
                  format='datastream', key_attribute=None)
  assert oracle.position == {'source_timestamp_ms': 1640410924408, 'scn': 1706664,
                             'rs_id': '0x0001', 'ssn': 3, 'is_deleted': 0}
  staged = decode(json.dumps({'id': 1, 'name': 'x', '_metadata_timestamp': 1640410924,
                              '_metadata_deleted': False, '_metadata_change_type': 'INSERT',
                              '_metadata_source_type': 'mysql',
                              '_metadata_log_file': 'mysql-bin.000025',
                              '_metadata_log_position': '78443804'}),
                  format='datastream', key_attribute=None)
  assert staged.op == 'c' and staged.image == {'id': 1, 'name': 'x'}
  assert staged.position['source_timestamp_ms'] == 1640410924000
  assert staged.position['log_position'] == 78443804


@pytest.mark.parametrize('text,error_type', [
    (datastream_raw({'id': 1}, 1, change_type='MERGE'), 'cdc_unknown_op'),
    (json.dumps({'payload': {'id': 1}, 'source_metadata': {}}), 'cdc_missing_order'),
    (json.dumps({'id': 1}), 'cdc_missing_order'),
    (json.dumps({'payload': {'id': 1}, 'source_metadata': [], 'source_timestamp': 1}),
     'cdc_malformed_envelope'),
])
def test_bad_datastream_records(text, error_type):
  assert error_of(text, format='datastream', key_attribute=None) == error_type


# ---- generic ----------------------------------------------------------------------------------

GENERIC = dict(format='generic', op_field='op', sequence_fields=('seq',), key_attribute=None)


@pytest.mark.parametrize('name,op', [('INSERT', 'c'), ('i', 'c'), ('Update', 'u'),
                                     ('upsert', 'u'), ('snapshot', 'r'), ('DELETE', 'd'),
                                     ('remove', 'd')])
def test_generic_operation_names(name, op):
  change = decode(generic(name, {'id': 1, 'name': 'a'}, 5), **GENERIC)
  assert change.op == op and change.image == {'id': 1, 'name': 'a'}  # no op/seq columns


def test_generic_sequence_fields_order_by_their_schema_type():
  config = dict(GENERIC, sequence_fields=('seen', 'seq'), source_time_field='seen')
  early = decode(generic('u', {'id': 1}, 9, seen='2024-01-01T00:00:00Z'), **config)
  late = decode(generic('u', {'id': 1}, 1, seen='2024-01-01T00:00:00.5Z'), **config)
  assert early.order < late.order  # as times, not as text
  assert late.source_ts_us == 1704067200500000
  assert late.image['seen'] == '2024-01-01T00:00:00.5Z'  # a schema column stays in the row


@pytest.mark.parametrize('text,error_type', [
    (json.dumps({'id': 1, 'seq': 1}), 'cdc_malformed_envelope'),
    (generic('merge', {'id': 1}, 1), 'cdc_unknown_op'),
    (json.dumps({'id': 1, 'op': 'u'}), 'cdc_missing_order'),
    (generic('u', {'id': 1}, [1]), 'cdc_missing_order'),
    (generic('t', {}, 1), 'cdc_truncate'),
])
def test_bad_generic_records(text, error_type):
  assert error_of(text, **GENERIC) == error_type


def test_config_rejects_bad_combinations_naming_the_argument():
  with pytest.raises(ValueError, match='op_field is required'):
    ChangeFormatConfig(primary_key=('id',), format='generic', sequence_fields=('s',))
  with pytest.raises(ValueError, match='sequence_fields is for the generic format'):
    ChangeFormatConfig(primary_key=('id',), sequence_fields=('s',))
  with pytest.raises(ValueError, match='format must be one of'):
    ChangeFormatConfig(primary_key=('id',), format='maxwell')
  with pytest.raises(ValueError, match='primary_key names a column twice'):
    ChangeFormatConfig(primary_key='id,ID')
