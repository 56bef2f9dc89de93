"""Builders of change records for the CDC tests, shaped as Debezium, Datastream and generic
producers shape them (field names and encodings from Debezium's documentation and test
resources; the values are made up)."""

import base64
import json

SCHEMA = [
    {'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'name', 'type': 'STRING'},
    {'name': 'balance', 'type': 'NUMERIC', 'precision': '12', 'scale': '2'},
    {'name': 'born', 'type': 'DATE'},
    {'name': 'seen', 'type': 'TIMESTAMP'},
]

ROW_FIELDS = [
    {'type': 'int64', 'optional': False, 'field': 'id'},
    {'type': 'string', 'optional': True, 'field': 'name'},
    {'type': 'bytes', 'optional': True, 'name': 'org.apache.kafka.connect.data.Decimal',
     'version': 1, 'parameters': {'scale': '2', 'connect.decimal.precision': '12'},
     'field': 'balance'},
    {'type': 'int32', 'optional': True, 'name': 'io.debezium.time.Date', 'version': 1,
     'field': 'born'},
    {'type': 'int64', 'optional': True, 'name': 'io.debezium.time.MicroTimestamp', 'version': 1,
     'field': 'seen'},
]


def decimal_b64(unscaled):
  """Kafka Connect Decimal encoding: base64 of the big-endian two's-complement value."""
  size = max(1, (unscaled.bit_length() + 8) // 8)
  return base64.b64encode(unscaled.to_bytes(size, 'big', signed=True)).decode('ascii')


def connect_schema(row_fields=ROW_FIELDS):
  value = {'type': 'struct', 'fields': row_fields, 'optional': True,
           'name': 'db.public.customers.Value'}
  return {'type': 'struct', 'name': 'db.public.customers.Envelope', 'optional': False,
          'fields': [dict(value, field='before'), dict(value, field='after'),
                     {'type': 'struct', 'field': 'source', 'optional': False, 'fields': []},
                     {'type': 'string', 'field': 'op', 'optional': False},
                     {'type': 'int64', 'field': 'ts_ms', 'optional': True}]}


def postgres_source(ts_ms, lsn, snapshot='false', **extra):
  return dict({'version': '2.7.0.Final', 'connector': 'postgresql', 'name': 'db',
               'ts_ms': ts_ms, 'snapshot': snapshot, 'db': 'db', 'schema': 'public',
               'table': 'customers', 'txId': 500 + lsn, 'lsn': lsn}, **extra)


def mysql_source(ts_ms, file, pos, row=0, snapshot='false'):
  return {'version': '2.7.0.Final', 'connector': 'mysql', 'name': 'db', 'ts_ms': ts_ms,
          'snapshot': snapshot, 'db': 'db', 'table': 'customers', 'server_id': 223344,
          'file': file, 'pos': pos, 'row': row, 'query': 'UPDATE customers SET ...'}


def debezium(op, after=None, before=None, source=None, ts_ms=None, envelope=False,
             key=None):
  """One Debezium change event as JSON text. ``envelope``: the JsonConverter's
  ``{"schema", "payload"}`` form (row values then encoded as Connect types: pass them so).
  ``key``: wrap as a file record ``{"key": key, "value": event}``."""
  payload = {'before': before, 'after': after, 'source': source or {}, 'op': op}
  if ts_ms is not None:
    payload['ts_ms'] = ts_ms
  value = {'schema': connect_schema(), 'payload': payload} if envelope else payload
  if key is not None:
    value = {'key': key, 'value': value}
  return json.dumps(value, separators=(',', ':'))


def datastream_raw(row, source_ms, source_type='mysql', change_type='INSERT',
                   is_deleted=False, backfill=False, **position):
  """A record as Datastream writes it to Cloud Storage (JSON format)."""
  method = f'{source_type}-backfill-fulldump' if backfill else f'{source_type}-cdc-binlog'
  meta = dict({'table': 'customers', 'database': 'db', 'primary_keys': ['id'],
               'change_type': change_type, 'is_deleted': is_deleted}, **position)
  return json.dumps({'uuid': 'u', 'read_timestamp': source_ms,
                     'source_timestamp': source_ms, 'object': 'db_customers',
                     'read_method': method, 'stream_name': 'projects/p/streams/s',
                     'source_metadata': meta, 'payload': row})


def generic(op, row, seq, op_field='op', seq_field='seq', **extra):
  return json.dumps(dict(row, **{op_field: op, seq_field: seq}, **extra))
