"""BigQuery schema -> Avro / Arrow schemas, and BigQuery JSON rows -> typed rows, for the lake
sink (``beam_pipelines.transforms.write.lake``; the mapping table is in its docstring and
docs/formats.md)."""

import base64
import datetime
import decimal
import re

from beam_pipelines.transforms.core.schema import FieldSpec, load_schema

_AVRO_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_NON_FINITE = {'NaN': float('nan'), 'Infinity': float('inf'), '-Infinity': float('-inf')}


# --- schemas ---------------------------------------------------------------------------------

def avro_schema(schema, name='Row'):
  """The Avro schema (a dict) of a BigQuery table schema; ValueError for names Avro rejects."""
  schema = load_schema(schema)
  return {'type': 'record', 'name': name, 'fields': [
      _avro_field(f, name) for f in schema.fields]}


def _avro_field(spec, parent):
  if not _AVRO_NAME.match(spec.name):
    raise ValueError(f'column {spec.name!r} is not a valid Avro field name '
                     '([A-Za-z_][A-Za-z0-9_]*); write jsonl or parquet instead')
  t = _avro_type(spec, f'{parent}_{spec.name}')
  if spec.repeated:
    return {'name': spec.name, 'type': {'type': 'array', 'items': t}, 'default': []}
  if spec.required:
    return {'name': spec.name, 'type': t}
  return {'name': spec.name, 'type': ['null', t], 'default': None}


def _avro_type(spec, record_name):
  kind = spec.type
  if kind == 'RECORD':
    return {'type': 'record', 'name': record_name,
            'fields': [_avro_field(f, record_name) for f in spec.fields]}
  if kind == 'NUMERIC':
    p, s = (spec.precision, spec.scale or 0) if spec.precision else (38, 9)
    return {'type': 'bytes', 'logicalType': 'decimal', 'precision': p, 'scale': s}
  if kind == 'BIGNUMERIC':
    p, s = (spec.precision, spec.scale or 0) if spec.precision else (77, 38)
    return {'type': 'bytes', 'logicalType': 'decimal', 'precision': p, 'scale': s}
  if kind == 'RANGE':  # a record of two nullable bounds (null: unbounded)
    bound = _AVRO_SIMPLE[spec.range_element_type]
    return {'type': 'record', 'name': record_name, 'sqlType': f'RANGE<{spec.range_element_type}>',
            'fields': [{'name': 'start', 'type': ['null', bound], 'default': None},
                       {'name': 'end', 'type': ['null', bound], 'default': None}]}
  return _AVRO_SIMPLE[kind]


_AVRO_SIMPLE = {
    'STRING': 'string', 'BYTES': 'bytes', 'INT64': 'long', 'FLOAT64': 'double',
    'BOOL': 'boolean',
    'TIMESTAMP': {'type': 'long', 'logicalType': 'timestamp-micros'},
    'DATE': {'type': 'int', 'logicalType': 'date'},
    'TIME': {'type': 'long', 'logicalType': 'time-micros'},
    'DATETIME': {'type': 'string', 'logicalType': 'datetime'},
    'GEOGRAPHY': {'type': 'string', 'sqlType': 'GEOGRAPHY'},
    'JSON': {'type': 'string', 'sqlType': 'JSON'},
    # Avro's duration (months, days, milliseconds in 32 bits) would lose microseconds and
    # range: the canonical text keeps the value exactly.
    'INTERVAL': {'type': 'string', 'sqlType': 'INTERVAL'},
}


def arrow_schema(schema):
  """The pyarrow schema of a BigQuery table schema."""
  import pyarrow as pa
  schema = load_schema(schema)
  return pa.schema([_arrow_field(f, top_level=True) for f in schema.fields])


def _arrow_field(spec, top_level=False):
  import pyarrow as pa
  if top_level and spec.type == 'JSON' and not spec.repeated:
    # Marked as JSON so readers (ours included) know the text is a JSON value. pyarrow
    # cannot build nested extension values from Python, so nested JSON stays a string.
    return pa.field(spec.name, pa.json_(), nullable=not spec.required)
  t = _arrow_type(spec)
  if spec.repeated:
    return pa.field(spec.name, pa.list_(t), nullable=True)
  return pa.field(spec.name, t, nullable=not spec.required)


def _arrow_type(spec):
  import pyarrow as pa
  kind = spec.type
  if kind == 'RECORD':
    return pa.struct([_arrow_field(f) for f in spec.fields])
  if kind == 'NUMERIC':
    p, s = (spec.precision, spec.scale or 0) if spec.precision else (38, 9)
    return pa.decimal128(p, s)
  if kind == 'RANGE':  # a struct of two nullable bounds (null: unbounded)
    bound = _arrow_type(FieldSpec(name='bound', type=spec.range_element_type))
    return pa.struct([pa.field('start', bound), pa.field('end', bound)])
  return {
      'STRING': pa.string(), 'BYTES': pa.binary(), 'INT64': pa.int64(),
      'FLOAT64': pa.float64(), 'BOOL': pa.bool_(), 'BIGNUMERIC': pa.string(),
      'TIMESTAMP': pa.timestamp('us', tz='UTC'), 'DATE': pa.date32(),
      'TIME': pa.time64('us'), 'DATETIME': pa.timestamp('us'), 'GEOGRAPHY': pa.string(),
      'JSON': pa.string(),
      # Parquet cannot store Arrow's month_day_nano interval: the canonical text instead.
      'INTERVAL': pa.string(),
  }[kind]


# --- values ----------------------------------------------------------------------------------

def _timestamp(text):
  return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def _float(value):
  return _NON_FINITE[value] if isinstance(value, str) else float(value)


def _scalar_converter(kind, target):
  """BigQuery JSON value -> the Python value fastavro / pyarrow want for ``kind``."""
  if kind in ('STRING', 'GEOGRAPHY', 'JSON', 'INT64', 'BOOL', 'INTERVAL'):
    return None  # unchanged
  if kind == 'BYTES':
    return base64.b64decode
  if kind == 'FLOAT64':
    return _float
  if kind == 'NUMERIC':
    return decimal.Decimal
  if kind == 'BIGNUMERIC':
    return decimal.Decimal if target == 'avro' else None
  if kind == 'TIMESTAMP':
    return _timestamp
  if kind == 'DATE':
    return datetime.date.fromisoformat
  if kind == 'TIME':
    return datetime.time.fromisoformat
  if kind == 'DATETIME':
    return datetime.datetime.fromisoformat if target == 'parquet' else None
  raise ValueError(f'no lake conversion for {kind}')


def row_converter(schema, target):
  """A function: a BigQuery-JSON row -> a row typed for ``target`` (``avro``/``parquet``).

  Every schema column is present in the result (missing NULLABLE -> None, REPEATED -> []).
  """
  schema = load_schema(schema)
  return _record_converter(schema.fields, target)


def _range_converter(element_type, target):
  bound = _scalar_converter(element_type, target)
  if bound is None:
    return None

  def convert_range(value):
    return {k: None if value.get(k) is None else bound(value[k]) for k in ('start', 'end')}
  return convert_range


def _record_converter(fields, target):
  plan = []
  for spec in fields:
    if spec.type == 'RECORD':
      convert = _record_converter(spec.fields, target)
    elif spec.type == 'RANGE':
      convert = _range_converter(spec.range_element_type, target)
    else:
      convert = _scalar_converter(spec.type, target)
    plan.append((spec.name, spec.repeated, convert))

  def convert_record(row):
    out = {}
    for name, repeated, convert in plan:
      value = row.get(name)
      if repeated:
        value = [] if value is None else (
            value if convert is None else [convert(v) for v in value])
      elif value is not None and convert is not None:
        value = convert(value)
      out[name] = value
    return out
  return convert_record
