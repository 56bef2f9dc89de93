"""The generic change format: a flat row plus a field naming the operation and fields giving
the order (``--op_field``, ``--sequence_fields``), e.g. an outbox or audit table export.

Operation values (any case): ``c``/``i``/``create``/``insert`` create; ``r``/``read``/
``snapshot`` snapshot read; ``u``/``update``/``upsert`` update; ``d``/``delete``/``remove``
delete; ``t``/``truncate`` truncate. Anything else is ``cdc_unknown_op``; a record without
the field is ``cdc_malformed_envelope``.

Order: the sequence fields' values, compared left to right: whole numbers as numbers, text as
text, and a field the table schema declares TIMESTAMP, DATETIME or DATE as that time (so
``2024-01-01T00:00:00.5Z`` sorts after ``2024-01-01T00:00:00Z``). A record missing one is
``cdc_missing_order``. The source time (``valid_from``) is ``--source_time_field`` read as a
TIMESTAMP (text or epoch seconds). The operation field, and sequence and time fields the
schema lacks, are not part of the row.
"""

import math

from beam_pipelines.transforms.cdc.change import (MALFORMED, MISSING_ORDER, TRUNCATE,
                                                  UNKNOWN_OP, ChangeError, DecodedChange,
                                                  timestamp_micros)
from beam_pipelines.transforms.cdc.formats.base import (TOMBSTONE, ChangeDecoder, is_blank,
                                                        load_json, order_of)
from beam_pipelines.transforms.cdc.ordering import as_int

OP_NAMES = {
    'c': 'c', 'i': 'c', 'create': 'c', 'insert': 'c',
    'r': 'r', 'read': 'r', 'snapshot': 'r',
    'u': 'u', 'update': 'u', 'upsert': 'u',
    'd': 'd', 'delete': 'd', 'remove': 'd',
    't': 't', 'truncate': 't',
}
_TIME_TYPES = ('TIMESTAMP', 'DATETIME', 'DATE')


def _time_micros(value, name):
  if isinstance(value, bool):
    raise ChangeError(MALFORMED, f'{name}: expected a timestamp, got a boolean')
  if isinstance(value, (int, float)) and math.isfinite(value):
    return round(value * 1_000_000)  # epoch seconds, as BigQuery reads numbers
  if isinstance(value, str):
    try:
      return timestamp_micros(value)
    except ValueError as e:
      raise ChangeError(MALFORMED, f'{name}: {e}') from None
  raise ChangeError(MALFORMED, f'{name}: expected a timestamp, got {type(value).__name__}')


class GenericDecoder(ChangeDecoder):
  """Decodes flat change rows (see the module docstring)."""

  def __init__(self, config, schema):
    super().__init__(config, schema)
    self._types = {f.name.lower(): f.type for f in self.schema.fields}
    self._not_row = {n.lower() for n in (config.op_field,) + config.sequence_fields +
                     ((config.source_time_field,) if config.source_time_field else ())
                     if n.lower() not in self._types or n == config.op_field}

  def decode(self, payload, attributes):
    if is_blank(payload, attributes):
      return TOMBSTONE
    obj = load_json(payload)
    if obj is None:
      return TOMBSTONE
    if not isinstance(obj, dict):
      raise ChangeError(MALFORMED, f'a change row must be a JSON object, got '
                        f'{type(obj).__name__}')
    config = self.config
    if obj.get(config.op_field) is None:
      raise ChangeError(MALFORMED, f'the operation field {config.op_field!r} is missing')
    op = OP_NAMES.get(str(obj[config.op_field]).strip().lower())
    if op is None:
      raise ChangeError(UNKNOWN_OP, f'{config.op_field}: unknown operation '
                        f'{str(obj[config.op_field])[:40]!r}')
    components = [(name, self._sequence_value(obj, name)) for name in config.sequence_fields]
    order, readable = order_of(components)
    source_us = None
    if config.source_time_field and obj.get(config.source_time_field) is not None:
      source_us = _time_micros(obj[config.source_time_field], config.source_time_field)
    image = {k: v for k, v in obj.items() if k.lower() not in self._not_row}
    meta = {'op': op, config.op_field: obj[config.op_field]}
    if op == 't':
      if not config.apply_truncate:
        raise ChangeError(TRUNCATE, 'a truncate is not applied without --apply_truncate')
      image = None
    return DecodedChange(op, order, readable, source_us, meta, image)

  def _sequence_value(self, obj, name):
    value = obj.get(name)
    if value is None:
      raise ChangeError(MISSING_ORDER, f'the sequence field {name!r} is missing or null')
    kind = self._types.get(name.lower())
    if kind in _TIME_TYPES and not isinstance(value, bool):
      return _time_micros(value, name)
    number = as_int(value) if kind == 'INT64' or not isinstance(value, str) else None
    if number is not None:
      return number
    if isinstance(value, float) and value.is_integer():
      return int(value)
    if isinstance(value, str):
      return value
    raise ChangeError(MISSING_ORDER, f'the sequence field {name!r} must be a whole number, '
                      f'text or a timestamp, got {value!r}'[:200])
