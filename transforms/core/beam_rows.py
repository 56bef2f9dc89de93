"""ToBeamRows: the suite's rows (dicts in BigQuery JSON form) -> schema'd Beam Rows.

Beam's schema-aware transforms (``GroupBy(...).aggregate_field``, ``Select``, Beam YAML's
``Filter``, ``Combine`` and mappings, SQL) need a PCollection whose element type is a schema.
``ToBeamRows(schema)`` derives a Beam schema from the BigQuery table schema and converts each
row to it:

| BigQuery | Beam field type |
|---|---|
| STRING, DATE, TIME, DATETIME, JSON, GEOGRAPHY, INTERVAL, RANGE | ``str`` (BigQuery's text form) |
| BYTES | ``bytes`` (decoded from base64) |
| INT64 | ``int`` (INT64) |
| FLOAT64 | ``float`` (DOUBLE) |
| NUMERIC, BIGNUMERIC | ``decimal.Decimal`` (Beam's decimal logical type) |
| BOOL | ``bool`` |
| TIMESTAMP | ``apache_beam.utils.timestamp.Timestamp`` (Beam's micros-instant logical type) |
| RECORD | a nested Row |

NULLABLE fields are ``Optional``, REPEATED ones sequences. The rows' source id key is not a
field. A field name that is not a Python identifier (BigQuery's flexible column names) cannot
be a Beam schema field: ``ToBeamRows`` refuses such a schema at construction, naming it.
"""

import base64
import decimal
import keyword
import typing
import uuid

import apache_beam as beam
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, FallibleResult,
                                                        make_dead_letter, pipeline_name_of)
from beam_pipelines.transforms.core.elements import (UnsupportedElement, payload_of, row_dict,
                                                     source_id_of,
                                                     unsupported_element_dead_letter)
from beam_pipelines.transforms.core.outputs import schema_of, typed_dead_letters
from beam_pipelines.transforms.core.schema import load_schema

_SCALARS = {
    'STRING': str, 'BYTES': bytes, 'INT64': int, 'FLOAT64': float, 'BOOL': bool,
    'NUMERIC': decimal.Decimal, 'BIGNUMERIC': decimal.Decimal, 'TIMESTAMP': Timestamp,
}


def _timestamp(value):
  # Validated rows hold YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC).
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    return Timestamp.of(value)
  return Timestamp.from_rfc3339(str(value))


_CONVERT = {
    'BYTES': lambda v: base64.b64decode(v) if isinstance(v, str) else bytes(v),
    'INT64': int,
    'FLOAT64': float,
    'NUMERIC': lambda v: decimal.Decimal(str(v)),
    'BIGNUMERIC': lambda v: decimal.Decimal(str(v)),
    'BOOL': bool,
    'TIMESTAMP': _timestamp,
}


def _check_name(name, path):
  if not name.isidentifier() or keyword.iskeyword(name):
    raise ValueError(f'ToBeamRows: field {path!r} is not a valid Beam schema field name (a '
                     'Python identifier); rename it, or keep these rows as dicts')


def _row_type(fields, name, path=''):
  """(NamedTuple class, converter dict -> instance) for a list of FieldSpecs."""
  members, plan = [], []
  for spec in fields:
    field_path = f'{path}{spec.name}'
    _check_name(spec.name, field_path)
    if spec.type == 'RECORD':
      inner, convert = _row_type(spec.fields, f'{name}_{spec.name}', f'{field_path}.')
      python_type = inner
    else:
      python_type = _SCALARS.get(spec.type, str)
      convert = _CONVERT.get(spec.type, str)
    if spec.repeated:
      python_type = typing.Sequence[python_type]
    elif not spec.required:
      python_type = typing.Optional[python_type]
    members.append((spec.name, python_type))
    plan.append((spec.name, spec.repeated, convert))
  row_class = typing.NamedTuple(name, members)
  beam.coders.registry.register_coder(row_class, beam.coders.RowCoder)

  def convert_record(row):
    values = {}
    for field_name, repeated, convert in plan:
      value = row.get(field_name)
      if repeated:
        value = [convert(v) for v in (value or ())]
      elif value is not None:
        value = convert(value)
      values[field_name] = value
    return row_class(**values)
  return row_class, convert_record


def beam_row_type(schema):
  """The NamedTuple class (registered with Beam's RowCoder) for rows of ``schema``."""
  return _row_type(load_schema(schema).fields, f'BigQueryRow_{uuid.uuid4().hex[:8]}')[0]


class _ToBeamRowFn(beam.DoFn):
  def __init__(self, schema, pipeline_name):
    self._schema = schema
    self._pipeline_name = pipeline_name
    self._convert = None

  def setup(self):
    # Built on the worker: the class itself comes with the output coder.
    _, self._convert = _row_type(self._schema.fields, 'WorkerRow')

  def process(self, element):
    try:
      row = row_dict(element)
    except UnsupportedElement:
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
          element, 'sink', 'ToBeamRows', 'rows (dicts or beam.Rows)', self._pipeline_name))
      return
    try:
      yield self._convert(row)
    except Exception as e:  # pylint: disable=broad-except
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          payload_of(row), stage='sink', error_type='beam_row_conversion',
          message=f'cannot make a Beam Row of the row: {type(e).__name__}: {e}',
          source_id=source_id_of(row), pipeline=self._pipeline_name))


class ToBeamRows(beam.PTransform):
  """Rows (dicts in BigQuery JSON form, or beam.Rows) -> schema'd Beam Rows of ``schema``.

  Args:
    schema: the rows' table schema (a path, the JSON or a ``TableSchema``); None: the schema
      the input rows were made with, when a suite transform made them.
    pipeline_name: recorded in each dead letter (default: the pipeline's options).

  Outputs a ``FallibleResult``: ``rows`` of a NamedTuple type with a Beam schema (see the
  module docstring for the type mapping), and ``dead_letters`` for rows that do not convert
  (none after ``ParseAndValidate``) or elements that are not rows.

  Example::

      beam_rows = parsed.rows | ToBeamRows(schema)
      totals = beam_rows.rows | beam.GroupBy('event_type').aggregate_field(
          'quantity', sum, 'total_quantity')
  """

  def __init__(self, schema=None, *, pipeline_name=None, label=None):
    super().__init__(label)
    self._schema = None if schema is None else load_schema(schema)
    self._pipeline_name = pipeline_name
    if self._schema is not None:
      beam_row_type(self._schema)  # refuses a schema that cannot be a Beam schema, now

  def expand(self, rows):
    schema = self._schema or schema_of(rows)
    if schema is None:
      raise ValueError('ToBeamRows: schema is required (the input rows were not made by a '
                       'transform of the suite that knows their schema)')
    row_class = beam_row_type(schema)
    out = rows | 'ToBeamRows' >> beam.ParDo(_ToBeamRowFn(
        schema, pipeline_name_of(rows.pipeline, self._pipeline_name))).with_output_types(
            row_class).with_outputs(DEAD_LETTER_TAG, main='rows')
    return FallibleResult(rows=out.rows, dead_letters=typed_dead_letters(out[DEAD_LETTER_TAG]))
