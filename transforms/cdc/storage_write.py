"""ApplyWithStorageWriteCdc: the replica through BigQuery's own CDC (``--apply_mode
storage_write_cdc``), Dataflow only.

Beam's ``WriteToBigQuery(method=STORAGE_WRITE_API, use_cdc_writes=True, primary_key=...)``
sends each change as an UPSERT or a DELETE with a ``_CHANGE_SEQUENCE_NUMBER``, and BigQuery
applies the highest sequence number per key itself. It is a cross-language transform: its
Java expansion service jar is fetched from Maven when the pipeline is *built*, so it cannot
even be constructed offline (here it fails with "Unable to fetch remote job server jar");
on Dataflow the launcher container fetches it. At-least-once; no change log and no history
(use ``--apply_mode merge`` for those).

The sequence number is the change's order mapped to at most four ``/``-separated hexadecimal
sections (BigQuery's format): each whole-number component as hex, text components by the
number they end with (``mysql-bin.000042`` -> 42; SQL Server LSNs as hex digits), in order;
components past the fourth are dropped (they only break ties). Orders that differ only there
are applied in an arbitrary order, which is the documented limit of this mode. DATE,
DATETIME, TIME, JSON and BIGNUMERIC values travel as their BigQuery JSON text. None of this
can be run here (no Dataflow, no expansion service): it is built as Beam documents it and
not verified against BigQuery.
"""

import base64
import decimal
import re

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.typehints.row_type import RowTypeConstraint
from apache_beam.utils.timestamp import Timestamp

from beam_pipelines.transforms.cdc.change import META
from beam_pipelines.transforms.core.schema import load_schema

MAX_SECTIONS = 4
_TRAILING_NUMBER = re.compile(r'(\d+)\D*$')
_HEX = re.compile(r'^[0-9a-fA-F:]+$')


class StorageWriteUnavailable(RuntimeError):
  """The Storage Write API's Java expansion service could not be reached or fetched."""


def _section(value):
  if value is None:
    return 0
  if isinstance(value, int):
    return max(value, 0)
  text = str(value).strip()
  if _HEX.match(text) and ':' in text:  # SQL Server LSN 00000025:00000d98:0002
    return int(text.replace(':', ''), 16)
  match = _TRAILING_NUMBER.search(text)
  return int(match.group(1)) if match else 0


def change_sequence_number(position):
  """A change's readable order (``_cdc_position``) -> BigQuery's ``_CHANGE_SEQUENCE_NUMBER``."""
  values = list(position.values())[:MAX_SECTIONS]
  return '/'.join(format(_section(v) & 0xFFFFFFFFFFFFFFFF, 'X') for v in values) or '0'


def _row_type(record_hints):
  return RowTypeConstraint.from_fields([
      ('row_mutation_info', RowTypeConstraint.from_fields([
          ('mutation_type', str), ('change_sequence_number', str)])),
      ('record', RowTypeConstraint.from_fields(record_hints)),
  ])


# Beam's Storage Write rows need Python values; these BigQuery types travel as their JSON text
# (type_overrides), the others are converted from it (``_python_value``).
TEXT_TYPES = {'DATE': str, 'DATETIME': str, 'TIME': str, 'JSON': str, 'BIGNUMERIC': str}


def _python_value(value, bq_type):
  """A BigQuery JSON-form value -> the Python value Beam's Storage Write rows take."""
  if value is None:
    return None
  if isinstance(value, list):
    return [_python_value(v, bq_type) for v in value]
  if bq_type in ('NUMERIC',):
    return decimal.Decimal(value)
  if bq_type == 'TIMESTAMP':
    return Timestamp.from_rfc3339(value)
  if bq_type == 'BYTES':
    return base64.b64decode(value)
  return value


def _typed(row, fields):
  out = {}
  for field in fields:
    value = row.get(field['name'])
    if field['type'] in ('RECORD', 'STRUCT') and value is not None:
      values = value if isinstance(value, list) else [value]
      typed = [_typed(v, field['fields']) for v in values]
      out[field['name']] = typed if isinstance(value, list) else typed[0]
    else:
      out[field['name']] = _python_value(value, field['type'])
  return out


def to_cdc_row(change_row, schema_json):
  """A change row -> the Beam Row WriteToBigQuery's CDC writes take."""
  from apache_beam.io.gcp import bigquery_tools
  meta = change_row[META]
  record = _typed(change_row, schema_json['fields'])
  return beam.Row(
      row_mutation_info=beam.Row(
          mutation_type='DELETE' if meta['op'] == 'd' else 'UPSERT',
          change_sequence_number=change_sequence_number(meta['position'])),
      record=bigquery_tools.beam_row_from_dict(record, schema_json))


class ApplyWithStorageWriteCdc(beam.PTransform):
  """Writes change rows (c/r/u as UPSERT, d as DELETE) to the replica with BigQuery's CDC.

  Args:
    table: the replica ``PROJECT:DATASET.TABLE``.
    row_schema: the replica's row schema (after masking/enrichment).
    primary_key: the key columns (BigQuery's primary key of the table).

  Raises ``StorageWriteUnavailable`` while the pipeline is built when Beam cannot get its Java
  expansion service (offline: always). Returns Beam's ``WriteResult``.
  """

  def __init__(self, table, row_schema, primary_key, label=None):
    super().__init__(label)
    self._table = table
    self._schema = load_schema(row_schema)
    self._primary_key = list(primary_key)

  def expand(self, changes):
    from apache_beam.io.gcp import bigquery_tools
    schema_json = self._schema.to_json()
    hints = bigquery_tools.get_beam_typehints_from_tableschema(schema_json, TEXT_TYPES)
    rows = changes | 'ToCdcRows' >> beam.Map(to_cdc_row, schema_json).with_output_types(
        _row_type(hints))
    try:
      return rows | 'WriteCdc' >> WriteToBigQuery(
          self._table, method=WriteToBigQuery.Method.STORAGE_WRITE_API,
          use_at_least_once=True, use_cdc_writes=True, primary_key=self._primary_key,
          create_disposition=BigQueryDisposition.CREATE_IF_NEEDED,
          write_disposition=BigQueryDisposition.WRITE_APPEND, type_overrides=TEXT_TYPES)
    except RuntimeError as e:
      if 'jar' not in str(e):
        raise
      raise StorageWriteUnavailable(
          '--apply_mode storage_write_cdc needs Beam\'s Java expansion service for the '
          'BigQuery Storage Write API, fetched from Maven while the pipeline is built (on '
          'Dataflow: in the launcher container). It could not be fetched here: '
          f'{str(e)[:600]}') from e
