"""Beam YAML wrappers of reading and validation: ``ReadEvents`` (files), ``ParseAndValidate``
and ``SchemaDrift``.
"""

from typing import Optional

import apache_beam as beam

from beam_pipelines.transforms.beam_yaml.elements import outputs_of, to_message, to_plain


class ReadEventsFromFiles(beam.PTransform):
  """Reads files into raw messages (``ReadEvents``): one per JSONL line, CSV record,
  Avro record or Parquet row, with a ``file:line`` source id.

  Args:
    path: a file path or glob (local or gs://).
    format: jsonl, csv, avro or parquet.
  Outputs ``rows`` (raw messages) and ``dead_letters`` (unreadable files).
  """
  _yaml_requires_inputs = False  # Beam YAML: a source, it takes no input

  def __init__(self, path: str, format: str = 'jsonl'):  # pylint: disable=redefined-builtin
    super().__init__()
    from beam_pipelines.transforms.read.files import FileSourceConfig
    self._config = FileSourceConfig(pattern=path, format=format)

  def expand(self, pbegin):
    from beam_pipelines.transforms.read.events import ReadEvents
    return outputs_of(pbegin | ReadEvents(self._config))



def _parse_config(format, unknown_fields, coerce_types, schema_drift=None):  # pylint: disable=redefined-builtin
  from beam_pipelines.transforms.validate.parse import ParseConfig
  from beam_pipelines.transforms.validate.schema_drift import drift_policy
  from beam_pipelines.transforms.validate.validator import ValidationPolicy
  policy = ValidationPolicy(unknown_fields=unknown_fields, coerce_types=bool(coerce_types))
  if schema_drift:
    policy = drift_policy(policy, schema_drift)
  return ParseConfig(format=format, policy=policy)


class ParseAndValidateRows(beam.PTransform):
  """Decodes and validates records against a BigQuery table schema (``ParseAndValidate``).

  Args:
    schema: the table schema JSON file (``bq mk`` format), or the schema itself.
    format: payload format: json, csv or avro (of text lines and raw messages; records that
      arrive as Rows are validated as they are).
    unknown_fields: ignore or dead_letter.
    coerce_types: accept "42"-style strings for numbers and booleans.
    schema_drift: unset, dead_letter or evolve: new fields become ``schema_drift`` dead
      letters (feed them to ``SchemaDrift``).
    pipeline_name: written to each dead letter.
  Outputs ``rows`` and ``dead_letters``.
  """

  def __init__(self, schema: str, format: str = 'json', unknown_fields: str = 'ignore',  # pylint: disable=redefined-builtin
               coerce_types: bool = False, schema_drift: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.validate.parse import ParseAndValidate
    self._transform = ParseAndValidate(
        to_plain(schema), _parse_config(format, unknown_fields, coerce_types, schema_drift),
        pipeline_name=pipeline_name)

  def expand(self, pcoll):
    messages = pcoll | 'ToRawMessages' >> beam.Map(to_message)
    return outputs_of(messages | self._transform)


class HandleSchemaDriftRows(beam.PTransform):
  """Routes ``schema_drift`` dead letters of ``ParseAndValidate`` (``HandleSchemaDrift``).

  Args:
    schema: the same table schema file as ParseAndValidate.
    mode: dead_letter or evolve.
    table: the BigQuery table to add columns to (evolve).
    project: the project of a DATASET.TABLE spec.
    format: the payload format given to ParseAndValidate.
    pipeline_name: written to each dead letter.
  Outputs ``rows`` (evolved rows: flatten them with ParseAndValidate's rows) and
  ``dead_letters`` (all other dead letters, unchanged).
  """

  def __init__(self, schema: str, mode: str = 'dead_letter', table: Optional[str] = None,
               project: Optional[str] = None, format: str = 'json',  # pylint: disable=redefined-builtin
               pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.validate.schema_drift import HandleSchemaDrift, SchemaDriftConfig
    parse = _parse_config(format, 'ignore', False, mode)
    self._transform = HandleSchemaDrift(
        to_plain(schema), SchemaDriftConfig(mode=mode, table=table, project=project), parse,
        pipeline_name=pipeline_name)

  def expand(self, dead_letters):
    return outputs_of(dead_letters | 'Plain' >> beam.Map(to_plain) | self._transform)
