"""The Debezium change event: ``{"before", "after", "source", "op", "ts_ms", ...}``, bare or in
the JSON converter's ``{"schema": ..., "payload": ...}`` envelope, optionally as a file record
``{"key": ..., "value": ...}``.

Operations: ``c`` (create), ``r`` (snapshot read), ``u`` (update), ``d`` (delete); ``t``
(truncate) is a ``cdc_truncate`` dead letter unless truncates are applied; ``m`` (a logical
decoding message) is skipped and counted. A ``null`` value (a tombstone, after every delete
when the connector is set to) is skipped and counted.

Order: ``source`` time (the finest of ``ts_ns``, ``ts_us``, ``ts_ms``), then the source's log
position, whichever is present: ``lsn`` (PostgreSQL), ``file``, ``pos``, ``row`` (MySQL),
``scn`` (Oracle), ``commit_lsn``, ``change_lsn``, ``event_serial_no`` (SQL Server), ``ord``
(MongoDB); then the event's own time (``ts_ns``/``ts_us``/``ts_ms`` of the envelope). Snapshot
rows sharing one position (and MySQL snapshot rows whose ``source.ts_ms`` is 0) are told apart
by the next field. The source time (``valid_from`` of the history) is the source's time, or
the event's when the source says 0.
"""

from beam_pipelines.transforms.cdc.change import (MALFORMED, MISSING_AFTER, MISSING_ORDER, OPS,
                                                  ROW_OPS, TRUNCATE, UNKNOWN_OP, ChangeError,
                                                  DecodedChange)
from beam_pipelines.transforms.cdc.formats.base import (MESSAGE, TOMBSTONE, ChangeDecoder,
                                                        is_blank, load_json, order_of)
from beam_pipelines.transforms.cdc.formats.connect_types import decode_plain, decode_struct
from beam_pipelines.transforms.cdc.ordering import as_int, finest_time_ns, parse_lsn

_ENVELOPE_KEYS = frozenset(('op', 'before', 'after', 'source', 'payload', 'schema'))
# Source fields not kept in the change log's _cdc_source: MySQL's ``query`` holds SQL text
# with the row's values (personal data), ``schema`` is the envelope's schema, not the source's.
_DROPPED_SOURCE_FIELDS = frozenset(('query',))


def _position(source):
  """The source's log position as [(name, value), ...] (empty when there is none)."""
  if source.get('lsn') is not None:
    lsn = parse_lsn(source['lsn'])
    if lsn is None:
      raise ChangeError(MALFORMED, f'source.lsn {source["lsn"]!r} is not a log sequence number')
    return [('lsn', lsn)]
  if source.get('file') is not None and source.get('pos') is not None:
    pos = as_int(source['pos'])
    if pos is None or not isinstance(source['file'], str):
      raise ChangeError(MALFORMED, 'source.file must be text and source.pos a whole number')
    return [('file', source['file']), ('pos', pos), ('row', as_int(source.get('row')) or 0)]
  if source.get('scn') is not None:
    scn = as_int(source['scn'])
    if scn is None:
      raise ChangeError(MALFORMED, f'source.scn {source["scn"]!r} is not a whole number')
    return [('scn', scn)]
  if source.get('change_lsn') is not None or source.get('commit_lsn') is not None:
    return [('commit_lsn', _text(source.get('commit_lsn'))),
            ('change_lsn', _text(source.get('change_lsn'))),
            ('event_serial_no', as_int(source.get('event_serial_no')))]
  if source.get('ord') is not None:
    return [('ord', as_int(source['ord']))]
  return []


def _text(value):
  return None if value is None else str(value)


def _struct_field(schema, name):
  if not isinstance(schema, dict):
    return None
  for field in schema.get('fields') or ():
    if isinstance(field, dict) and field.get('field') == name:
      return field
  return None


class DebeziumDecoder(ChangeDecoder):
  """Decodes Debezium change events (see the module docstring)."""
  ROW_PATHS = ('after', 'before', 'payload.after', 'payload.before', 'value.after',
               'value.before', 'value.payload.after', 'value.payload.before', 'key',
               'key.payload')

  def decode(self, payload, attributes):
    if is_blank(payload, attributes):
      return TOMBSTONE
    obj = load_json(payload)
    key_value = None
    if isinstance(obj, dict) and 'value' in obj and not (obj.keys() & _ENVELOPE_KEYS):
      key_value, obj = obj.get('key'), obj['value']  # a file record {"key", "value"}
    schema = None
    if isinstance(obj, dict) and 'payload' in obj and 'schema' in obj:
      schema, obj = obj['schema'], obj['payload']
    if obj is None:
      return TOMBSTONE
    if not isinstance(obj, dict):
      raise ChangeError(MALFORMED, 'a Debezium change event must be a JSON object, got '
                        f'{type(obj).__name__}')
    op = obj.get('op')
    if op == 'm':
      return MESSAGE
    if op is None:
      raise ChangeError(MALFORMED, 'the change event has no "op"')
    if op not in OPS:
      raise ChangeError(UNKNOWN_OP, f'unknown op {str(op)[:40]!r} (expected one of c, r, u, '
                        'd, t, m)')
    source = obj.get('source')
    if source is None:
      source = {}
    if not isinstance(source, dict):
      raise ChangeError(MALFORMED, '"source" must be an object')
    order, position, source_us = self._order(obj, source)
    meta = {k: v for k, v in source.items() if k not in _DROPPED_SOURCE_FIELDS}
    meta['op'] = op
    if op == 't':
      if not self.config.apply_truncate:
        raise ChangeError(TRUNCATE, 'a truncate (op t) is not applied without '
                          '--apply_truncate')
      return DecodedChange('t', order, position, source_us, meta, None)
    if op in ROW_OPS:
      after = obj.get('after')
      if not isinstance(after, dict):
        raise ChangeError(MISSING_AFTER, f'an op {op} change without an "after" image')
      image = self._image(after, _struct_field(schema, 'after'))
      return DecodedChange(op, order, position, source_us, meta, image)
    before = obj.get('before')
    image = self._image(before, _struct_field(schema, 'before')) if isinstance(
        before, dict) else None
    key = self.message_key(key_value, attributes)
    return DecodedChange('d', order, position, source_us, meta, image, key)

  def _image(self, values, struct_schema):
    if struct_schema is not None:
      return decode_struct(values, struct_schema, self.schema.fields, self.modes)
    return decode_plain(values, self.schema.fields, self.modes)

  def _order(self, obj, source):
    source_ns = finest_time_ns(source)
    event_ns = finest_time_ns(obj)
    position = _position(source)
    if source_ns is None and event_ns is None and not position:
      raise ChangeError(MISSING_ORDER, 'the change has no source.ts_ms, no log position and no '
                        'ts_ms: it cannot be ordered')
    order, readable = order_of([('source_ts_ns', source_ns)] + position +
                               [('ts_ns', event_ns)])
    when = source_ns if source_ns else event_ns
    return order, readable, None if when is None else when // 1000
