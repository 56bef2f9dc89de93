"""Typed records (Avro, Parquet) -> JSON payloads that stay readable in dead letters.

An Avro or Parquet record becomes a RawMessage whose payload is a JSON object, so that
``ParseAndValidate`` validates it against the BigQuery schema exactly like a JSON line, a dead
letter's ``payloadString`` is readable, and a replayed dead letter is a plain JSONL line.
The mapping (also in docs/formats.md):

| typed value (Avro logical type / Parquet type)        | JSON                                  |
|---|---|
| null, boolean, int/long, string, enum                  | as is                                 |
| float/double                                           | number; NaN/±Infinity as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (BigQuery's spelling; JSON has no such numbers) |
| bytes, fixed, binary                                   | standard base64 string (BigQuery's JSON form of BYTES) |
| decimal                                                | decimal string, no exponent (``"12.50"``): exact, NUMERIC/BIGNUMERIC checks apply |
| timestamp-millis/micros, Parquet timestamp with zone   | RFC 3339 UTC ``2026-01-02T03:04:05.123456Z`` |
| local-timestamp-*, Parquet timestamp without zone      | ``2026-01-02T03:04:05.123456`` (a DATETIME; a TIMESTAMP column reads it as UTC) |
| date                                                   | ``2026-01-02``                        |
| time-millis/micros                                     | ``03:04:05.123456``                   |
| uuid                                                   | its string form                       |
| record / struct                                        | object                                |
| array / list                                           | array                                 |
| map                                                    | array of ``{"key": k, "value": v}`` objects (BigQuery's own mapping of Avro maps: a REPEATED RECORD) |
| Avro string with ``sqlType: JSON``, Parquet JSON type   | the JSON value the text holds (BigQuery's export form of a JSON column; top-level Parquet columns) |

Nanosecond Parquet timestamps and times are truncated to microseconds (BigQuery's precision).
"""

import base64
import datetime
import decimal
import json
import math
import uuid

import orjson


def non_finite_text(number):
  """BigQuery's JSON spelling of a non-finite float."""
  if math.isnan(number):
    return 'NaN'
  return 'Infinity' if number > 0 else '-Infinity'


def scalar_default(value):
  """orjson ``default``: the types orjson does not write itself (bytes, Decimal, ...)."""
  if isinstance(value, (bytes, bytearray, memoryview)):
    return base64.b64encode(bytes(value)).decode('ascii')
  if isinstance(value, decimal.Decimal):
    return decimal_text(value)
  if isinstance(value, uuid.UUID):
    return str(value)
  if isinstance(value, datetime.timedelta):
    raise TypeError('a duration has no BigQuery type; convert it in the producer')
  raise TypeError(f'cannot represent a {type(value).__name__} value as JSON')


def decimal_text(number):
  if not number.is_finite():
    raise TypeError(f'decimal {number} is not finite')
  return format(number, 'f')


def scalar(value):
  """One leaf value -> JSON-ready Python value (strings for temporal and exact types)."""
  if value is None or isinstance(value, (bool, int, str)):
    return value
  if isinstance(value, float):
    return value if math.isfinite(value) else non_finite_text(value)
  if isinstance(value, datetime.datetime):
    return format_datetime(value)
  if isinstance(value, datetime.date):
    return f'{value.year:04d}-{value.month:02d}-{value.day:02d}'
  if isinstance(value, datetime.time):
    return value.strftime('%H:%M:%S.%f')
  return scalar_default(value)


def format_datetime(moment):
  """Aware -> ``...Z`` in UTC; naive -> no zone (a civil DATETIME)."""
  zone = ''
  if moment.tzinfo is not None and moment.utcoffset() is not None:
    moment = moment.astimezone(datetime.timezone.utc)
    zone = 'Z'
  # Not strftime: glibc writes year 1 as '1', not '0001'.
  return (f'{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:'
          f'{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}{zone}')


def generic(value):
  """Any nested Python value (dicts, lists, map entries as 2-tuples) -> JSON-ready."""
  if isinstance(value, dict):
    return {str(k): generic(v) for k, v in value.items()}
  if isinstance(value, list):
    return [generic(v) for v in value]
  if isinstance(value, tuple) and len(value) == 2:  # a map entry (pyarrow's to_pylist)
    return {'key': generic(value[0]), 'value': generic(value[1])}
  return scalar(value)


def json_text(value):
  """A JSON column's text (Avro ``sqlType: JSON``, Parquet JSON type) -> its JSON value, so a
  JSON column round-trips through lake files. Invalid text raises ValueError."""
  if value is None:
    return None
  try:
    return json.loads(value)
  except (TypeError, ValueError) as e:
    raise ValueError(f'a JSON-typed value holds invalid JSON text: {e}') from None


def dumps(value):
  """A JSON-ready value -> compact JSON bytes."""
  return orjson.dumps(value, default=scalar_default)


def lenient_dumps(value):
  """Best-effort JSON bytes of a record that ``dumps`` refused (a dead letter's payload): a
  value with no JSON form becomes its ``str`` text, map keys become strings. Still a JSON
  object, so the masking policy can apply to the dead letter's payload."""
  def fallback(v):
    try:
      return scalar_default(v)
    except Exception:  # pylint: disable=broad-except
      return str(v)
  try:
    return orjson.dumps(value, default=fallback,
                        option=orjson.OPT_NON_STR_KEYS)
  except Exception:  # pylint: disable=broad-except  (e.g. nesting too deep)
    return repr(value).encode('utf-8')


# --- Avro: conversion driven by the writer schema (record vs map needs the schema) ---------

_AVRO_PRIMITIVES = ('null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string')


def avro_converter(schema):
  """A function turning values decoded by fastavro with ``schema`` into JSON-ready values.

  ``schema`` is a parsed fastavro schema (``reader.writer_schema`` or ``parse_schema(...)``).
  """
  named = {}
  if isinstance(schema, dict):
    named.update(schema.get('__named_schemas') or {})
  cache = {}

  def compile_schema(s):
    if isinstance(s, str):
      if s in _AVRO_PRIMITIVES:
        return scalar
      key = ('named', s)
      if key not in cache:
        cache[key] = None  # recursion guard; resolved lazily below

        def resolve(value, _s=s):
          return compile_schema(named[_s])(value)
        cache[key] = resolve
      return cache[key]
    if isinstance(s, list):
      return _union(s)
    kind = s.get('type')
    if s.get('name') and kind in ('record', 'error', 'enum', 'fixed'):
      named.setdefault(s['name'], s)
    if kind in ('record', 'error'):
      fields = [(f['name'], None, f['type']) for f in s['fields']]
      compiled = []

      def convert_record(value):
        if not compiled:
          compiled.extend((name, compile_schema(t)) for name, _, t in fields)
        return {name: fn(value.get(name)) for name, fn in compiled}
      return convert_record
    if kind == 'array':
      item = []

      def convert_array(value):
        if not item:
          item.append(compile_schema(s['items']))
        fn = item[0]
        return [fn(v) for v in value]
      return convert_array
    if kind == 'map':
      vals = []

      def convert_map(value):
        if not vals:
          vals.append(compile_schema(s['values']))
        fn = vals[0]
        return [{'key': k, 'value': fn(v)} for k, v in value.items()]
      return convert_map
    if isinstance(kind, (dict, list)):
      return compile_schema(kind)
    if kind == 'string' and str(s.get('sqlType', '')).upper() == 'JSON':
      return json_text  # BigQuery's Avro form of a JSON column
    return scalar  # primitives with logical types, enum, fixed

  def _union(branches):
    compiled = {}

    def convert_union(value):
      if value is None:
        return None
      if not compiled:
        for b in branches:
          kind = _kind(b)
          compiled.setdefault(kind, []).append((b, compile_schema(b)))
      if isinstance(value, dict):
        candidates = compiled.get('record', []) + compiled.get('map', [])
        if len(candidates) > 1:
          for b, fn in compiled.get('record', []):
            target = named.get(b) if isinstance(b, str) else b
            if set(value) == {f['name'] for f in target['fields']}:
              return fn(value)
        if candidates:
          return candidates[0][1](value)
      if isinstance(value, (list, tuple)) and compiled.get('array'):
        return compiled['array'][0][1](value)
      if isinstance(value, str) and compiled.get('string'):
        return compiled['string'][0][1](value)
      return scalar(value)
    return convert_union

  def _kind(b):
    if isinstance(b, str):
      if b in _AVRO_PRIMITIVES:
        return b
      target = named.get(b)
      return _kind(target) if target is not None else 'record'
    if isinstance(b, list):
      return 'union'
    kind = b.get('type')
    return 'record' if kind == 'error' else kind if isinstance(kind, str) else 'other'

  return compile_schema(schema)
