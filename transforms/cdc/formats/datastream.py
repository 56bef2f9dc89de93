"""Datastream's JSON records, as Datastream writes them (``source_timestamp``,
``read_method``, ``source_metadata``, ``payload``) or as Google's Datastream template stages
them (the row's columns beside ``_metadata_*`` columns).

Operation: ``is_deleted`` / ``_metadata_deleted`` true, or change type ``DELETE`` /
``UPDATE-DELETE``, is a delete; a backfill read (``read_method`` ``*-backfill``) a snapshot
read; ``INSERT`` a create; ``UPDATE`` / ``UPDATE-INSERT`` (or no change type) an update. Any
other change type is ``cdc_unknown_op``.

Order, as in Google's template: the source timestamp (milliseconds here; the template keeps
seconds), then per source type MySQL ``log_file``, ``log_position``; PostgreSQL ``lsn``;
Oracle ``scn``, ``rs_id``, ``ssn``; SQL Server ``lsn``; then the deleted flag (a delete wins
a tie). The source timestamp is the history's ``valid_from``.
"""

from beam_pipelines.transforms.cdc.change import (MALFORMED, MISSING_AFTER, MISSING_ORDER,
                                                  UNKNOWN_OP, ChangeError, DecodedChange,
                                                  timestamp_micros)
from beam_pipelines.transforms.cdc.formats.base import (TOMBSTONE, ChangeDecoder, is_blank,
                                                        load_json, order_of)
from beam_pipelines.transforms.cdc.ordering import as_int, parse_lsn

METADATA_PREFIX = '_metadata_'
_CHANGE_TYPES = {'INSERT': 'c', 'UPDATE': 'u', 'UPDATE-INSERT': 'u', 'DELETE': 'd',
                 'UPDATE-DELETE': 'd'}
# source type -> [(metadata field, kind)]; kind: int, str or lsn
_POSITIONS = {
    'mysql': [('log_file', 'str'), ('log_position', 'int')],
    'postgresql': [('lsn', 'lsn')],
    'oracle': [('scn', 'int'), ('rs_id', 'str'), ('ssn', 'int')],
    'sqlserver': [('lsn', 'str')],
}
_SOURCE_ALIASES = {'postgres': 'postgresql'}


def _millis(value, name):
  """Epoch milliseconds from an int, or from timestamp text (Datastream's JSON output)."""
  number = as_int(value)
  if number is not None:
    return number
  if isinstance(value, str):
    try:
      return timestamp_micros(value.strip().replace(' ', 'T')) // 1000
    except ValueError as e:
      raise ChangeError(MALFORMED, f'{name}: {e}') from None
  raise ChangeError(MALFORMED, f'{name} must be epoch milliseconds or a timestamp')


def _position_value(value, kind, name):
  if value is None or value == '':
    return None
  if kind == 'int':
    number = as_int(value)
    if number is None:
      raise ChangeError(MALFORMED, f'{name} {value!r} is not a whole number')
    return number
  if kind == 'lsn':
    number = parse_lsn(value)
    if number is None:
      raise ChangeError(MALFORMED, f'{name} {value!r} is not a log sequence number')
    return number
  return str(value)


class DatastreamDecoder(ChangeDecoder):
  """Decodes Datastream records (see the module docstring)."""
  ROW_PATHS = ('payload',)

  def decode(self, payload, attributes):
    if is_blank(payload, attributes):
      return TOMBSTONE
    obj = load_json(payload)
    if obj is None:
      return TOMBSTONE
    if not isinstance(obj, dict):
      raise ChangeError(MALFORMED, 'a Datastream record must be a JSON object, got '
                        f'{type(obj).__name__}')
    if 'source_metadata' in obj or 'payload' in obj:
      return self._raw(obj)
    return self._staged(obj)

  def _raw(self, obj):
    meta = obj.get('source_metadata')
    if not isinstance(meta, dict):
      raise ChangeError(MALFORMED, '"source_metadata" must be an object')
    image = obj.get('payload')
    if image is not None and not isinstance(image, dict):
      raise ChangeError(MALFORMED, '"payload" must be an object')
    read_method = str(obj.get('read_method') or '')
    source_type = read_method.split('-')[0].lower()
    if obj.get('source_timestamp') is None:
      raise ChangeError(MISSING_ORDER, 'the record has no source_timestamp')
    millis = _millis(obj['source_timestamp'], 'source_timestamp')
    positions = {name: meta.get(name) for name in ('log_file', 'log_position', 'lsn', 'scn',
                                                   'rs_id', 'ssn')}
    keep = dict(meta, read_method=read_method, source_timestamp=obj['source_timestamp'],
                uuid=obj.get('uuid'), object=obj.get('object'))
    return self._change(source_type, millis, bool(meta.get('is_deleted')),
                        meta.get('change_type'), read_method, positions, image, keep)

  def _staged(self, obj):
    if obj.get('_metadata_timestamp') is None:
      raise ChangeError(MISSING_ORDER, 'the record has no _metadata_timestamp')
    # Google's template stages _metadata_timestamp in seconds.
    millis = as_int(obj['_metadata_timestamp'])
    if millis is None:
      millis = _millis(obj['_metadata_timestamp'], '_metadata_timestamp')
    else:
      millis *= 1000
    read_method = str(obj.get('_metadata_read_method') or '')
    source_type = str(obj.get('_metadata_source_type') or read_method.split('-')[0]).lower()
    positions = {name: obj.get(METADATA_PREFIX + name)
                 for name in ('log_file', 'log_position', 'lsn', 'scn', 'rs_id', 'ssn')}
    image = {k: v for k, v in obj.items() if not k.startswith(METADATA_PREFIX)}
    keep = {k[len(METADATA_PREFIX):]: v for k, v in obj.items()
            if k.startswith(METADATA_PREFIX) and k != '_metadata_source'}
    return self._change(source_type, millis, bool(obj.get('_metadata_deleted')),
                        obj.get('_metadata_change_type'), read_method, positions, image, keep)

  def _change(self, source_type, millis, deleted, change_type, read_method, positions, image,
              keep):
    source_type = _SOURCE_ALIASES.get(source_type, source_type)
    kind = str(change_type).upper() if change_type is not None else None
    if kind is not None and kind not in _CHANGE_TYPES:
      raise ChangeError(UNKNOWN_OP, f'unknown change_type {str(change_type)[:40]!r}')
    if deleted or _CHANGE_TYPES.get(kind) == 'd':
      op, deleted = 'd', True
    elif 'backfill' in read_method:
      op = 'r'
    else:
      op = _CHANGE_TYPES.get(kind, 'u')
    components = [('source_timestamp_ms', millis)]
    for name, value_kind in _POSITIONS.get(source_type, ()):
      components.append((name, _position_value(positions.get(name), value_kind, name)))
    components.append(('is_deleted', 1 if deleted else 0))
    order, readable = order_of(components)
    keep['op'] = op
    if op != 'd' and image is None:
      raise ChangeError(MISSING_AFTER, f'a {kind or "change"} record without a payload')
    return DecodedChange(op, order, readable, millis * 1000, keep, image)
