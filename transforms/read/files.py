"""ReadFiles: files become RawMessages (the file half of ReadEvents).

Formats: ``jsonl`` (one JSON document per line), ``csv``, ``avro`` and ``parquet`` (each
record becomes a JSON payload); each format's reader lives in ``beam_pipelines.transforms.read.formats``.

Every record keeps an exact ``file:line`` (or ``file:N`` record number) source id. Files are
matched at run time, never at construction, so a ``gs://`` pattern needs no network while the
pipeline is built (Dataflow dry runs, offline tests). A pattern that matches nothing fails the
run with an error naming the pattern; a file that cannot be read becomes a dead letter naming
the file. Large uncompressed JSONL files are read as line-aligned ranges spread over the
workers (``beam_pipelines.transforms.read.file_splits``); other files are read whole, one per DoFn call.
"""

import logging
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.io import fileio

from beam_pipelines.transforms.core.batches import batched_or_not, check_batched
from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, ROWS_TAG, FallibleResult
from beam_pipelines.transforms.core.lineage import report_file_source
from beam_pipelines.transforms.read.file_splits import DEFAULT_SPLIT_BYTES, PlanFileReads, SpreadFileReads
from beam_pipelines.transforms.read.formats.avro import ReadAvroFn
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat
from beam_pipelines.transforms.read.formats.csv_reader import ReadCsvFn
from beam_pipelines.transforms.read.formats.jsonl import ReadJsonLinesFn
from beam_pipelines.transforms.read.formats.parquet import ReadParquetFn

_LOG = logging.getLogger(__name__)
FILE_FORMATS = ('jsonl', 'csv', 'avro', 'parquet')
# The ParseAndValidate payload format each file format produces.
PAYLOAD_FORMATS = {'jsonl': 'json', 'csv': 'csv', 'avro': 'json', 'parquet': 'json'}


@dataclass(frozen=True)
class FileSourceConfig:
  """Files to read.

  Attributes:
    pattern: a path or glob, local or ``gs://`` (``.gz``/``.bz2`` decompressed by suffix for
      the text formats; Avro and Parquet compress inside the file).
    format: ``jsonl``, ``csv``, ``avro`` or ``parquet``.
    allow_empty_match: by default a pattern matching no file fails the run (a typo in a
      batch input path should not look like an empty day).
    csv: how CSV files are read (format ``csv``; defaults to ``CsvFormat()``: comma,
      double quote, header row).
    split_bytes: uncompressed JSONL files larger than this are read as several line-aligned
      ranges so that several workers can share one file (``beam_pipelines.transforms.read.file_splits``); 0
      reads every file whole.
  """
  pattern: str
  format: str = 'jsonl'
  allow_empty_match: bool = False
  csv: Optional[CsvFormat] = None
  split_bytes: int = DEFAULT_SPLIT_BYTES

  def __post_init__(self):
    if not self.pattern or not isinstance(self.pattern, str):
      raise ValueError('pattern must be a non-empty path or glob')
    if self.format not in FILE_FORMATS:
      raise ValueError(f'format must be one of {FILE_FORMATS}, got {self.format!r}')
    if self.csv is not None and not isinstance(self.csv, CsvFormat):
      raise ValueError(f'csv must be a CsvFormat, got {type(self.csv).__name__}')
    if isinstance(self.split_bytes, bool) or not isinstance(self.split_bytes, int) or \
        self.split_bytes < 0:
      raise ValueError(f'split_bytes must be a non-negative int, got {self.split_bytes!r}')
    if self.format == 'csv' and self.csv is None:
      object.__setattr__(self, 'csv', CsvFormat())

  @property
  def payload_format(self):
    """The ``ParseConfig.format`` that reads this source's payloads."""
    return PAYLOAD_FORMATS[self.format]


def _reader_fn(config):
  if config.format == 'jsonl':
    return ReadJsonLinesFn()
  if config.format == 'csv':
    return ReadCsvFn(config.csv)
  if config.format == 'avro':
    return ReadAvroFn()
  return ReadParquetFn()


def match_files(config):
  """The ``MatchFiles`` step of a ``FileSourceConfig``: FileMetadata (path, size, modification
  time) of every file the pattern matches; none fails the run unless ``allow_empty_match``."""
  return fileio.MatchFiles(
      config.pattern,
      empty_match_treatment=(fileio.EmptyMatchTreatment.ALLOW if config.allow_empty_match
                             else fileio.EmptyMatchTreatment.DISALLOW))


class ReadFiles(beam.PTransform):
  """Reads files into RawMessages. Use through ``ReadEvents(FileSourceConfig(...))``.

  Input: the pipeline (it matches ``config.pattern``), or a PCollection of matched files
  (``FileMetadata``) to read. Outputs a ``FallibleResult``: ``rows`` are RawMessages,
  ``dead_letters`` report what could not be read (stage ``read``; errorType ``unreadable_file``, ``corrupt_avro_block``,
  ``corrupt_parquet``, ``csv_invalid_header`` or ``unencodable_record``), each naming the
  file and where reading stopped. Records read before a problem are kept.
  """

  def __init__(self, config, *, batched=False, label=None):
    super().__init__(label)
    if not isinstance(config, FileSourceConfig):
      raise ValueError(f'config must be a FileSourceConfig, got {type(config).__name__}')
    self._config = config
    self._batched = check_batched(batched, 'ReadFiles')

  def expand(self, pbegin):
    # From the pipeline's start it matches the pattern itself; given matched files (e.g.
    # the ones SelectFilesToLoad chose), it reads those.
    matched = pbegin
    if isinstance(pbegin, beam.pvalue.PBegin):
      matched = pbegin | 'MatchFiles' >> match_files(self._config)
    outputs = (
        matched
        | 'ReportLineage' >> beam.Map(report_file_source)  # Beam lineage: source files
        | 'PlanReads' >> PlanFileReads(self._config.format, self._config.split_bytes)
        | 'SpreadReads' >> SpreadFileReads()
        | 'ReadRecords' >> beam.ParDo(batched_or_not(
            _reader_fn(self._config), self._batched, batched_input=False)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG))
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])
