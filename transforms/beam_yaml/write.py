"""Beam YAML wrappers of the sinks: rows to BigQuery or lake files, dead letters, and
``ToJsonLines`` for YAML's own ``WriteToText``.
"""

import json
from typing import Any, Optional

import apache_beam as beam

from beam_pipelines.transforms.beam_yaml.elements import DERIVED, schema_setting, to_plain
from beam_pipelines.transforms.core.elements import without_source_id


class WriteRowsToBigQueryTable(beam.PTransform):
  """Writes rows to BigQuery (``WriteRowsToBigQuery``); outputs the rejected rows as dead
  letters.

  Args:
    table: PROJECT:DATASET.TABLE (or DATASET.TABLE with --project).
    schema: the table schema file (used when the table is created), or ``derived`` (the
      default): the schema of the input rows as the step that made them knows it (e.g. the
      masked and enriched one).
    write_method: STREAMING_INSERTS or FILE_LOADS.
    temp_location: a folder for FILE_LOADS.
    pipeline_name: written to each dead letter.
  """

  def __init__(self, table: str, schema: Any = DERIVED,
               write_method: str = 'STREAMING_INSERTS', temp_location: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig, WriteRowsToBigQuery
    self._transform = WriteRowsToBigQuery(
        schema_setting(schema),
        BigQuerySinkConfig(table=table, write_method=write_method,
                           temp_location=temp_location),
        pipeline_name=pipeline_name)

  def expand(self, rows):
    return rows | self._transform


class WriteRowsToLake(beam.PTransform):
  """Writes rows as JSONL, Avro or Parquet files typed from the schema (``WriteRowsToFiles``);
  outputs rows that could not be encoded as dead letters.

  Args:
    path: the file prefix.
    schema: the table schema file the rows follow, or ``derived`` (the default): the
      schema of the input rows as the step that made them knows it.
    format: jsonl, avro or parquet.
    num_shards: number of files (0: the runner decides).
    pipeline_name: written to each dead letter.
  """

  def __init__(self, path: str, schema: Any = DERIVED, format: str = 'jsonl',  # pylint: disable=redefined-builtin
               num_shards: int = 0, pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.write.lake import LakeSinkConfig, WriteRowsToFiles
    self._transform = WriteRowsToFiles(
        schema_setting(schema), LakeSinkConfig(path=path, format=format, num_shards=num_shards),
        pipeline_name=pipeline_name)

  def expand(self, rows):
    return rows | self._transform


class WriteDeadLetterRecords(beam.PTransform):
  """Writes dead letters to BigQuery (``table``) or JSONL files (``path``)
  (``WriteDeadLetters``); outputs the ones the table rejected.

  Args:
    path: a file prefix for JSONL dead letters.
    table: a BigQuery dead-letter table (instead of path).
    pipeline_name: pipeline name.
  """

  def __init__(self, path: Optional[str] = None, table: Optional[str] = None,
               pipeline_name: Optional[str] = None):
    super().__init__()
    from beam_pipelines.transforms.write.dead_letters import DeadLetterSinkConfig, WriteDeadLetters
    if bool(path) == bool(table):
      raise ValueError('WriteDeadLetters: give exactly one of path or table')
    config = (DeadLetterSinkConfig(kind='files', path=path) if path
              else DeadLetterSinkConfig(kind='bigquery', table=table))
    self._transform = WriteDeadLetters(config, pipeline_name=pipeline_name)

  def expand(self, dead_letters):
    return dead_letters | self._transform


class ToJsonLines(beam.PTransform):
  """Rows or dead letters -> ``Row(line=<JSON>)``, for YAML's ``WriteToText`` (rows without
  their source id key)."""

  def expand(self, pcoll):
    return pcoll | 'ToJson' >> beam.Map(
        lambda e: beam.Row(line=json.dumps(without_source_id(to_plain(e)), ensure_ascii=False,
                                           sort_keys=True, default=str)))
