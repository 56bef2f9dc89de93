"""Debezium (Kafka Connect) values -> values the table schema's validator accepts.

Debezium encodes many column types as numbers or base64 text whose meaning is carried only by
the field's *semantic type* in the envelope's schema (``name`` and ``parameters``):

==========================================  ==================================================
semantic type                               value
==========================================  ==================================================
``io.debezium.time.Date``, Connect ``Date`` days since the epoch (int)
``io.debezium.time.Timestamp``, Connect      milliseconds since the epoch (int; a DATETIME
``Timestamp``                               column's local time read as UTC)
``io.debezium.time.MicroTimestamp``          microseconds since the epoch
``io.debezium.time.NanoTimestamp``           nanoseconds since the epoch (truncated to µs)
``io.debezium.time.ZonedTimestamp``          ISO-8601 text with an offset
``io.debezium.time.Time``, Connect ``Time``  milliseconds of the day
``io.debezium.time.MicroTime`` / ``NanoTime`` micro- / nanoseconds of the day
``io.debezium.time.ZonedTime``               ``HH:MM:SS[.f]Z`` text
Connect ``Decimal``                         base64 of the big-endian two's-complement
                                            unscaled value; the scale is in ``parameters``
``io.debezium.data.VariableScaleDecimal``    ``{"scale": s, "value": base64}``
``io.debezium.data.Json``                    JSON text
==========================================  ==================================================

They become the BigQuery JSON form of the column's type in the table schema (DATE, DATETIME,
TIMESTAMP, TIME, NUMERIC text...); the validator then checks them like any row. Without the
envelope's schema (``schemas.enable=false``) the meaning must be configured: integer
TIMESTAMP/DATETIME/TIME values need a temporal mode (``millis``/``micros``/``nanos``), text
NUMERIC/BIGNUMERIC values a decimal mode (``precise``: base64 with the scale declared on the
column in the table schema; ``string``: decimal text; ``double``). With mode ``reject``
(the default) such a value is a ``cdc_undecodable:<column>`` dead letter, never a guessed
number. An integer DATE is days since the epoch in every Debezium mode.
"""

import base64
import binascii
import dataclasses
import decimal
import functools
import json

from beam_pipelines.transforms.cdc.change import UNDECODABLE, ChangeError, micros_text
from beam_pipelines.transforms.validate.bq_temporal import to_timestamp
from beam_pipelines.transforms.validate.field_error import FieldError

DAY_MICROS = 86_400_000_000
DATE_NAMES = frozenset(('io.debezium.time.Date', 'org.apache.kafka.connect.data.Date'))
# semantic name -> (multiply, divide) to microseconds
TIMESTAMP_UNITS = {
    'io.debezium.time.Timestamp': (1000, 1),
    'org.apache.kafka.connect.data.Timestamp': (1000, 1),
    'io.debezium.time.MicroTimestamp': (1, 1),
    'io.debezium.time.NanoTimestamp': (1, 1000),
}
TIME_UNITS = {
    'io.debezium.time.Time': (1000, 1),
    'org.apache.kafka.connect.data.Time': (1000, 1),
    'io.debezium.time.MicroTime': (1, 1),
    'io.debezium.time.NanoTime': (1, 1000),
}
MODE_UNITS = {'millis': (1000, 1), 'micros': (1, 1), 'nanos': (1, 1000)}
ZONED_TIMESTAMP = 'io.debezium.time.ZonedTimestamp'
ZONED_TIME = 'io.debezium.time.ZonedTime'
DECIMAL = 'org.apache.kafka.connect.data.Decimal'
VARIABLE_DECIMAL = 'io.debezium.data.VariableScaleDecimal'
JSON_TEXT = 'io.debezium.data.Json'
_DECIMAL_CONTEXT = decimal.Context(prec=200, Emax=1000, Emin=-1000)
_DECIMAL_TYPES = ('NUMERIC', 'BIGNUMERIC')


def _undecodable(column, detail):
  return ChangeError(f'{UNDECODABLE}:{column}', f'{column}: {detail}', stage='validate')


def _is_int(value):
  return isinstance(value, int) and not isinstance(value, bool)


def _to_micros(value, units):
  multiply, divide = units
  return value * multiply // divide  # floor: sub-microsecond digits are dropped


def _temporal_text(micros, bq_type, column):
  """Microseconds since the epoch -> the JSON form of a TIMESTAMP/DATETIME/DATE/STRING."""
  try:
    if bq_type == 'TIMESTAMP':
      return micros_text(micros)
    if bq_type in ('DATETIME', 'STRING'):
      return micros_text(micros, zone='')
    if bq_type == 'DATE':
      return micros_text(micros, zone='')[:10]
  except ValueError as e:
    raise _undecodable(column, str(e)) from None
  return None


def _time_text(micros, column):
  if not 0 <= micros < DAY_MICROS:
    raise _undecodable(column, f'{micros} µs is not a time of day (BigQuery TIME is '
                       '00:00:00 to 23:59:59.999999)')
  return micros_text(micros, zone='')[11:]


def decode_decimal(text, scale, column):
  """base64 of a big-endian two's-complement unscaled value + scale -> decimal text."""
  if not isinstance(text, str):
    raise _undecodable(column, f'a Decimal must be base64 text, got {type(text).__name__}')
  try:
    raw = base64.b64decode(text, validate=True)
  except (binascii.Error, ValueError):
    raise _undecodable(column, f'{text[:40]!r} is not base64 of a Decimal') from None
  if not raw:
    raise _undecodable(column, 'an empty Decimal value')
  unscaled = int.from_bytes(raw, 'big', signed=True)
  number = decimal.Decimal(unscaled).scaleb(-scale, context=_DECIMAL_CONTEXT)
  return format(number, 'f')


def _decimal_for(text_value, bq_type, column):
  """Decimal text -> the value for the column's type (NUMERIC/STRING text, FLOAT64, INT64)."""
  if bq_type == 'FLOAT64':
    return float(text_value)
  if bq_type == 'INT64':
    number = decimal.Decimal(text_value)
    if number != number.to_integral_value():
      raise _undecodable(column, f'{text_value} is not a whole number (INT64 column)')
    return int(number)
  return text_value


def _variable_decimal(value, bq_type, column):
  if not isinstance(value, dict) or not _is_int(value.get('scale')) or 'value' not in value:
    raise _undecodable(column, 'a VariableScaleDecimal must be {"scale": int, "value": '
                       'base64}')
  return _decimal_for(decode_decimal(value['value'], value['scale'], column), bq_type, column)


def _scale_parameter(schema, column):
  params = schema.get('parameters') or {}
  try:
    return int(params['scale'])
  except (KeyError, TypeError, ValueError):
    raise _undecodable(column, 'a Decimal field without parameters.scale in its schema') \
        from None


def _zoned_to_datetime(text, column):
  """An ISO timestamp with an offset -> its UTC wall time (a DATETIME value)."""
  try:
    return to_timestamp(text, None, None)[:-1]
  except FieldError as e:
    raise _undecodable(column, e.detail) from None


def _with_schema(value, schema, spec, column):
  """One value, its Connect field schema and its BigQuery FieldSpec (or None) -> the value."""
  name = schema.get('name')
  bq_type = spec.type if spec is not None else None
  if schema.get('type') == 'array' and isinstance(value, list):
    items = schema.get('items') or {}
    return [None if v is None else _with_schema(v, items, spec, column) for v in value]
  if name in DATE_NAMES and _is_int(value):
    if bq_type == 'INT64':
      return value
    return _temporal_text(value * DAY_MICROS, bq_type or 'DATE', column) or value
  if name in TIMESTAMP_UNITS and _is_int(value):
    if bq_type == 'INT64':
      return value
    return _temporal_text(_to_micros(value, TIMESTAMP_UNITS[name]), bq_type or 'DATETIME',
                          column) or value
  if name in TIME_UNITS and _is_int(value):
    if bq_type == 'INT64':
      return value
    return _time_text(_to_micros(value, TIME_UNITS[name]), column)
  if name == ZONED_TIMESTAMP and isinstance(value, str) and bq_type == 'DATETIME':
    return _zoned_to_datetime(value, column)
  if name == ZONED_TIME and isinstance(value, str) and bq_type == 'TIME':
    return value[:-1] if value.endswith(('Z', 'z')) else value
  if name == DECIMAL:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      return value  # the JSON converter's decimal.format=NUMERIC
    return _decimal_for(decode_decimal(value, _scale_parameter(schema, column), column),
                        bq_type, column)
  if name == VARIABLE_DECIMAL:
    return _variable_decimal(value, bq_type, column)
  if name == JSON_TEXT and isinstance(value, str) and bq_type == 'JSON':
    return _parse_json_text(value, column)
  if schema.get('type') == 'struct' and isinstance(value, dict) and spec is not None and \
      spec.type == 'RECORD':
    return decode_struct(value, schema, spec.fields, None, column + '.')
  return value


def _parse_json_text(text, column):
  try:
    return json.loads(text)
  except ValueError:
    raise _undecodable(column, 'io.debezium.data.Json text is not valid JSON') from None


def _without_schema(value, spec, modes, column):
  """One value with no Connect schema: decoded by its column's type and the modes."""
  temporal, decimals = modes
  bq_type = spec.type
  if spec.repeated and isinstance(value, list):
    element = dataclasses.replace(spec, mode='NULLABLE')
    return [None if v is None else _without_schema(v, element, modes, column) for v in value]
  if bq_type == 'RECORD' and isinstance(value, dict):
    return decode_plain(value, spec.fields, modes, column + '.')
  if bq_type == 'DATE' and _is_int(value):
    return _temporal_text(value * DAY_MICROS, 'DATE', column)
  if bq_type in ('TIMESTAMP', 'DATETIME', 'TIME') and _is_int(value):
    mode = temporal.mode_for(column)
    if mode not in MODE_UNITS:
      raise _undecodable(column, f'an integer {bq_type} value needs --cdc_temporal_mode '
                         '(millis|micros|nanos, or column=mode) when records carry no schema')
    micros = _to_micros(value, MODE_UNITS[mode])
    if bq_type == 'TIME':
      return _time_text(micros, column)
    return _temporal_text(micros, bq_type, column)
  if bq_type == 'DATETIME' and isinstance(value, str) and value.rstrip().endswith(('Z', 'z')):
    return _zoned_to_datetime(value, column)
  if bq_type == 'TIME' and isinstance(value, str) and value.endswith(('Z', 'z')):
    return value[:-1]
  if bq_type in _DECIMAL_TYPES:
    if isinstance(value, dict):
      return _variable_decimal(value, bq_type, column)
    if isinstance(value, str):
      mode = decimals.mode_for(column)
      if mode == 'precise':
        if spec.scale is None and spec.precision is None:
          raise _undecodable(column, '--cdc_decimal_mode precise needs the scale: declare '
                             f'the column as {bq_type}(P, S) in the schema, or send the '
                             'records with their schema')
        return decode_decimal(value, spec.scale or 0, column)
      if mode == 'reject':
        raise _undecodable(column, f'a text {bq_type} value needs --cdc_decimal_mode '
                           '(precise|string|double) when records carry no schema')
  if bq_type == 'JSON' and isinstance(value, str):
    return _parse_json_text(value, column)
  return value


@functools.lru_cache(maxsize=64)
def _spec_index(fields):
  return {f.name.lower(): f for f in fields}


# Column types whose values decode_plain may change; other columns pass as they are.
_DECODED_TYPES = frozenset(('DATE', 'TIMESTAMP', 'DATETIME', 'TIME', 'NUMERIC', 'BIGNUMERIC',
                            'JSON', 'RECORD'))


@functools.lru_cache(maxsize=64)
def _decoded_columns(fields):
  return {f.name.lower(): f for f in fields if f.type in _DECODED_TYPES}


def decode_struct(values, struct_schema, fields, modes, prefix=''):
  """A row dict and its Connect struct schema -> the row with every value decoded. Columns
  the schema does not describe fall back to ``decode_plain`` (when ``modes`` is given) or
  pass unchanged; unknown columns pass unchanged (the validator's policy decides)."""
  specs = _spec_index(tuple(fields))
  schemas = {f.get('field'): f for f in struct_schema.get('fields') or ()
             if isinstance(f, dict)}
  out = {}
  for name, value in values.items():
    spec = specs.get(name.lower()) if isinstance(name, str) else None
    if value is None:
      out[name] = None
    elif name in schemas:
      out[name] = _with_schema(value, schemas[name], spec, prefix + str(name))
    elif spec is not None and modes is not None:
      out[name] = _without_schema(value, spec, modes, prefix + str(name))
    else:
      out[name] = value
  return out


def decode_plain(values, fields, modes, prefix=''):
  """A row dict with no Connect schema -> the row decoded by column type and ``modes`` (a
  pair of ``ValueModes``: temporal, decimal)."""
  specs = _decoded_columns(tuple(fields))
  out = dict(values)
  for name, value in values.items():
    if value is None or not isinstance(name, str):
      continue
    spec = specs.get(name.lower())
    if spec is not None:
      out[name] = _without_schema(value, spec, modes, prefix + name)
  return out
