"""WriteRowsToFiles: validated rows as JSONL, Avro or Parquet files (a lake sink).

Rows arrive in BigQuery JSON form (what ``ParseAndValidate`` emits) and are written typed
from the BigQuery schema (the mapping lives in ``beam_pipelines.transforms.write.lake_types``), so the files load
back into BigQuery (or read in Spark, DuckDB...) without a schema of their own:

| BigQuery | Avro | Parquet (Arrow) |
|---|---|---|
| STRING | string | string |
| BYTES | bytes | binary |
| INT64 | long | int64 |
| FLOAT64 | double | float64 |
| BOOL | boolean | bool |
| NUMERIC(P,S) | bytes decimal(P,S), default (38,9) | decimal128(P,S), default (38,9) |
| BIGNUMERIC | bytes decimal(77,38) (or the column's P,S) | string (exact decimal text: Arrow's decimal256 holds 76 digits, BIGNUMERIC needs 77) |
| TIMESTAMP | long timestamp-micros | timestamp[us, UTC] |
| DATE | int date | date32 |
| TIME | long time-micros | time64[us] |
| DATETIME | string, logicalType datetime (BigQuery's own Avro export form) | timestamp[us] (no zone) |
| GEOGRAPHY | string (WKT), sqlType GEOGRAPHY | string (WKT) |
| JSON | string, sqlType JSON | JSON (Arrow's JSON extension type) for top-level columns; string inside RECORD/REPEATED |
| INTERVAL | string (canonical ``Y-M D H:M:S[.F]``), sqlType INTERVAL | string (same text; Parquet cannot hold Arrow's month_day_nano) |
| RANGE<T> | record {start, end} of nullable T (null: unbounded), sqlType RANGE<T> | struct<start: T, end: T> |
| RECORD | record | struct |
| REPEATED | array | list |
| NULLABLE / REQUIRED | union with null / plain | nullable / not-null field |

JSONL files hold the rows exactly as BigQuery's JSON form (one object per line).

Files are written by Beam's file sinks (``WriteToText`` / ``WriteToAvro`` /
``WriteToParquet``): rows are buffered and written in batches (Parquet: record batches of
``record_batch_size`` rows into row groups), one file per shard, never a file per row. On
unbounded (streaming) input, rows are cut into fixed windows of ``window_seconds`` and each
window is written as its own files.
"""

import functools
import logging
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam import coders
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms import window

from beam_pipelines.transforms.core.dead_letter import make_dead_letter, pipeline_name_of
from beam_pipelines.transforms.core.elements import (UnsupportedElement, payload_of, row_dict,
                                                     source_id_of,
                                                     unsupported_element_dead_letter,
                                                     without_source_id)
from beam_pipelines.transforms.core.outputs import schema_of, typed_dead_letters
from beam_pipelines.transforms.core.schema import load_schema, schema_first
from beam_pipelines.transforms.write.lake_types import arrow_schema, avro_schema, row_converter
from beam_pipelines.transforms.write.row_shape import unknown_fields_checker

_LOG = logging.getLogger(__name__)
LAKE_FORMATS = ('jsonl', 'avro', 'parquet')
SUFFIXES = {'jsonl': '.jsonl', 'avro': '.avro', 'parquet': '.parquet'}


@dataclass(frozen=True)
class LakeSinkConfig:
  """Where and how validated rows are written as files.

  Attributes:
    path: a file prefix, local or ``gs://`` (``gs://lake/events/part`` gives
      ``part-00000-of-00004.parquet``...).
    format: ``jsonl``, ``avro`` or ``parquet``.
    num_shards: number of files (0: let the runner decide).
    codec: compression inside Avro (``deflate``, ``null``...) or Parquet (``snappy``,
      ``zstd``, ``none``...) files; default per format.
    record_batch_size: Parquet rows per Arrow record batch.
    window_seconds: streaming (unbounded input) only: rows are cut into fixed windows of
      this length and each window is written as its own files.
  """
  path: str
  format: str = 'parquet'
  num_shards: int = 0
  codec: Optional[str] = None
  record_batch_size: int = 10000
  window_seconds: int = 60

  def __post_init__(self):
    if not self.path or not isinstance(self.path, str):
      raise ValueError('output_path must be a non-empty file prefix')
    if self.format not in LAKE_FORMATS:
      raise ValueError(f'output format must be one of {LAKE_FORMATS}, got {self.format!r}')
    if self.num_shards < 0:
      raise ValueError(f'num_shards must be >= 0, got {self.num_shards}')
    if self.record_batch_size <= 0:
      raise ValueError(f'record_batch_size must be positive, got {self.record_batch_size}')
    if self.window_seconds <= 0:
      raise ValueError(f'window_seconds must be positive, got {self.window_seconds}')


class _ToLakeRowFn(beam.DoFn):
  """Typed rows for the file sink; a row that cannot be typed becomes a sink dead letter."""
  FAILED = 'failed'

  def __init__(self, schema, target, pipeline_name, metric_name='rows', keep_source=False):
    self._keep_source = keep_source  # (source id, typed row) pairs for a LakeCommit
    self._schema = schema
    self._target = target
    self._pipeline_name = pipeline_name
    self._convert = None
    self._attempted = Metrics.counter('sink', f'{metric_name}_attempted')
    self._failed = Metrics.counter('sink', f'{metric_name}_failed')

  def setup(self):
    self._unknown = unknown_fields_checker(self._schema)
    if self._target == 'jsonl':
      import orjson
      self._convert = orjson.dumps
    else:
      self._convert = row_converter(self._schema, self._target)

  def process(self, element):
    self._attempted.inc()
    try:
      row = row_dict(element)
    except UnsupportedElement:
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(self.FAILED, unsupported_element_dead_letter(
          element, 'sink', 'WriteRowsToFiles', 'rows (dicts or beam.Rows)',
          self._pipeline_name))
      return
    source_id = source_id_of(row)
    unknown = self._unknown(row)
    if unknown:  # never written silently without them: the schema given is not the rows'
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(self.FAILED, make_dead_letter(
          payload_of(row), stage='sink', error_type='unknown_field',
          message=f'the row has {len(unknown)} field(s) the file schema lacks: '
                  f'{", ".join(unknown[:10])}', source_id=source_id,
          pipeline=self._pipeline_name))
      return
    try:
      typed = self._convert(without_source_id(row))
      yield (source_id, typed) if self._keep_source else typed
    except Exception as e:  # pylint: disable=broad-except
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(self.FAILED, make_dead_letter(
          payload_of(row), stage='sink',
          error_type='lake_encode', message=f'cannot write the row as {self._target}: '
          f'{type(e).__name__}: {e}', source_id=source_id, pipeline=self._pipeline_name))


class _JsonlFileSink(fileio.FileSink):
  """Streaming JSONL: one JSON row (bytes) per line."""

  def __init__(self, unused_destination=None):
    self._fh = None

  def open(self, fh):
    self._fh = fh

  def write(self, record):
    self._fh.write(record)
    self._fh.write(b'\n')

  def flush(self):
    self._fh.flush()


class _AvroFileSink(fileio.FileSink):
  """Streaming Avro: one container file per window and writer (fastavro)."""

  def __init__(self, schema, codec, unused_destination=None):
    self._schema = schema
    self._codec = codec
    self._writer = None

  def open(self, fh):
    import fastavro
    self._writer = fastavro.write.Writer(fh, fastavro.parse_schema(self._schema),
                                         codec=self._codec)

  def write(self, record):
    self._writer.write(record)

  def flush(self):
    self._writer.flush()


class _ParquetFileSink(fileio.FileSink):
  """Streaming Parquet: rows buffered into record batches, the footer written on flush."""

  def __init__(self, schema, codec, batch_rows, unused_destination=None):
    self._schema = schema
    self._codec = codec
    self._batch_rows = batch_rows
    self._rows = []
    self._writer = None

  def open(self, fh):
    import pyarrow.parquet as pq
    self._rows = []
    self._writer = pq.ParquetWriter(fh, self._schema, compression=self._codec)

  def write(self, record):
    self._rows.append(record)
    if len(self._rows) >= self._batch_rows:
      self._write_rows()

  def _write_rows(self):
    import pyarrow as pa
    if self._rows:
      self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
      self._rows = []

  def flush(self):
    self._write_rows()
    self._writer.close()  # writes the footer; fileio closes the file itself


def file_sink_factory(config, file_schema):
  """A callable making a ``fileio.FileSink`` of the config's format (open, write, flush)."""
  if config.format == 'jsonl':
    return _JsonlFileSink
  if config.format == 'avro':
    return functools.partial(_AvroFileSink, file_schema, config.codec or 'deflate')
  return functools.partial(_ParquetFileSink, file_schema, config.codec or 'snappy',
                           config.record_batch_size)


class WriteRowsToFiles(beam.PTransform):
  """Writes validated rows to JSONL, Avro or Parquet files typed from the BigQuery schema.

  Args:
    schema: the table schema (a path, the JSON or a ``TableSchema``); None (or left out):
      the schema the input rows were made with, when a suite transform made them (e.g. the
      masked and enriched schema after ``MaskPII`` and ``EnrichWithSideInput``).
    config: a ``LakeSinkConfig``.
    pipeline_name: recorded in each dead letter (default: the pipeline's options).
    commit: a ``LakeCommit`` (``beam_pipelines.transforms.loads.lake_commit``): the files are
      written under the run's folder, one set per input file, and become part of the output
      only when the commit's manifest is written (batch only; ``num_shards`` is not used).

  Input: rows (dicts or ``beam.Row``s; the source id key is not written). Output: a
  PCollection of dead letters (stage ``sink``, errorType ``lake_encode``) for rows that
  cannot be typed (none expected after ``ParseAndValidate``), ``unknown_field`` for a row with
  fields the schema lacks (it is not written without them), or ``unsupported_element:<kind>``
  for an element that is not a row. A failing file write fails the run. Counters
  ``sink/rows_attempted`` and ``sink/rows_failed`` (as the BigQuery sink), so the run
  summary's ``rows written`` is right.

  Example::

      failed = rows | WriteRowsToFiles(schema, LakeSinkConfig('/lake/events/part', 'parquet'))
  """

  def __init__(self, schema=None, config=None, *, pipeline_name=None, metric_name='rows',
               commit=None, label=None):
    super().__init__(label)
    self._commit = commit
    schema, config = schema_first('WriteRowsToFiles', schema, config, LakeSinkConfig)
    self._metric_name = metric_name
    if not isinstance(config, LakeSinkConfig):
      raise ValueError(f'config must be a LakeSinkConfig, got {type(config).__name__}')
    self._config = config
    self._schema = None if schema is None else load_schema(schema)
    self._pipeline_name = pipeline_name
    # Built now so a schema the format cannot hold fails at construction.
    self._file_schema = None if self._schema is None else self._format_schema(self._schema)

  def _format_schema(self, schema):
    if self._config.format == 'avro':
      return avro_schema(schema)
    if self._config.format == 'parquet':
      return arrow_schema(schema)
    return None

  def expand(self, rows):
    config = self._config
    streaming = {}
    schema, file_schema = self._schema, self._file_schema
    if schema is None:
      schema = schema_of(rows)
      if schema is None:
        raise ValueError('WriteRowsToFiles: schema is required (the input rows were not '
                         'made by a transform of the suite that knows their schema)')
      file_schema = self._format_schema(schema)
    typed = rows | 'Type' >> beam.ParDo(
        _ToLakeRowFn(schema, config.format, pipeline_name_of(rows.pipeline, self._pipeline_name),
                     self._metric_name, keep_source=self._commit is not None)).with_outputs(
            _ToLakeRowFn.FAILED, main='rows')
    suffix = SUFFIXES[config.format]
    if self._commit is not None:
      self._commit.write_files(typed.rows, self._metric_name, config.path,
                               file_sink_factory(config, file_schema), suffix)
    elif not rows.is_bounded:
      # Streaming: fixed windows, each written as its own files by fileio (Beam's Avro and
      # Parquet sinks wrote an empty or truncated file for the second window here: Beam 2.77,
      # BundleBasedDirectRunner, TestStream).
      folder, prefix = FileSystems.split(config.path)
      _ = (typed.rows
           | 'Window' >> beam.WindowInto(window.FixedWindows(config.window_seconds))
           | 'WriteWindowedFiles' >> fileio.WriteToFiles(
               path=folder or '.', file_naming=fileio.default_file_naming(
                   prefix or 'rows', suffix),
               sink=file_sink_factory(config, file_schema),
               shards=config.num_shards or None))
    elif config.format == 'jsonl':
      _ = typed.rows | 'WriteJsonl' >> beam.io.WriteToText(
          config.path, file_name_suffix=suffix, num_shards=config.num_shards,
          coder=coders.BytesCoder(), **streaming)
    elif config.format == 'avro':
      _ = typed.rows | 'WriteAvro' >> beam.io.WriteToAvro(
          config.path, schema=file_schema, codec=config.codec or 'deflate',
          file_name_suffix=suffix, num_shards=config.num_shards, **streaming)
    else:
      _ = typed.rows | 'WriteParquet' >> beam.io.WriteToParquet(
          config.path, schema=file_schema, codec=config.codec or 'snappy',
          record_batch_size=config.record_batch_size, file_name_suffix=suffix,
          num_shards=config.num_shards, **streaming)
    return typed_dead_letters(typed[_ToLakeRowFn.FAILED])
