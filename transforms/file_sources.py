"""ReadFiles: files become RawMessages (the file half of ReadEvents).

File sources read each matched file in one DoFn so that every record keeps an exact
``file:line`` (or ``file:record#``) source id. Files are matched at run time, never at
construction, so a ``gs://`` pattern needs no network while the pipeline is built (Dataflow
dry runs, offline tests). A pattern that matches nothing fails the run with an error naming
the pattern; a file that cannot be read becomes a dead letter naming the file.
"""

import bz2
import contextlib
import gzip
import logging
import lzma
import time
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.errors import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult, make_dead_letter)
from transforms.messages import RawMessage

_LOG = logging.getLogger(__name__)
FILE_FORMATS = ('jsonl',)
UTF8_BOM = b'\xef\xbb\xbf'


@dataclass(frozen=True)
class FileSourceConfig:
  """Files to read.

  Attributes:
    pattern: a path or glob, local or ``gs://`` (``.gz``/``.bz2`` decompressed by suffix).
    format: ``jsonl`` (one JSON document per line).
    allow_empty_match: by default a pattern matching no file fails the run (a typo in a
      batch input path should not look like an empty day).
  """
  pattern: str
  format: str = 'jsonl'
  allow_empty_match: bool = False

  def __post_init__(self):
    if not self.pattern or not isinstance(self.pattern, str):
      raise ValueError('pattern must be a non-empty path or glob')
    if self.format not in FILE_FORMATS:
      raise ValueError(f'format must be one of {FILE_FORMATS}, got {self.format!r}')


_DECOMPRESSORS = {'.gz': gzip.GzipFile, '.gzip': gzip.GzipFile, '.bz2': bz2.BZ2File,
                  '.xz': lzma.LZMAFile, '.lzma': lzma.LZMAFile}


@contextlib.contextmanager
def open_decompressed(path):
  """Opens a file (local or gs://) for reading, decompressing by suffix.

  Python's own gzip/bz2/lzma readers are used instead of Beam's CompressedFile because they
  raise EOFError on a truncated stream; Beam's reader ends quietly, which would turn a
  half-uploaded file into silently missing records.
  """
  raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
  with contextlib.ExitStack() as stack:
    stack.enter_context(raw)  # the decompressors do not close a file object they are given
    reader = next((r for suffix, r in _DECOMPRESSORS.items()
                   if path.lower().endswith(suffix)), None)
    if reader is not None:
      yield stack.enter_context(
          reader(fileobj=raw) if reader is gzip.GzipFile else reader(raw))
    else:
      yield raw


class _ReadJsonLinesFn(beam.DoFn):
  """One RawMessage per line of a file; source id ``path:line`` (1-based)."""

  def __init__(self):
    self._records = Metrics.counter('read', 'records')
    self._files = Metrics.counter('read', 'files')
    self._unreadable = Metrics.counter('read', 'unreadable_files')

  def process(self, readable_file):
    path = readable_file.metadata.path
    attributes = {'file': path, 'format': 'jsonl'}
    line_number = 0
    try:
      with open_decompressed(path) as handle:
        self._files.inc()
        for line_number, line in enumerate(iter(handle.readline, b''), start=1):
          if line_number == 1 and line.startswith(UTF8_BOM):
            line = line[len(UTF8_BOM):]  # a BOM marks the file, not the first record
          if line.endswith(b'\n'):
            line = line[:-2] if line.endswith(b'\r\n') else line[:-1]
          self._records.inc()
          yield RawMessage(line, attributes, f'{path}:{line_number}', time.time(), None)
    except Exception as e:  # pylint: disable=broad-except
      # A file that cannot be (fully) read is reported, never silently skipped.
      _LOG.error('cannot read %s after %d lines: %s', path, line_number, e)
      self._unreadable.inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          b'', stage='read', error_type='unreadable_file',
          message=f'cannot read {path} after line {line_number}: {type(e).__name__}: {e}',
          source_id=f'{path}:{line_number + 1}', attributes=attributes))


class ReadFiles(beam.PTransform):
  """Reads files into RawMessages. Use through ``ReadEvents(FileSourceConfig(...))``.

  Outputs a ``FallibleResult``: ``rows`` are RawMessages, ``dead_letters`` report files that
  could not be read (stage ``read``, errorType ``unreadable_file``).
  """

  def __init__(self, config, label=None):
    super().__init__(label)
    if not isinstance(config, FileSourceConfig):
      raise ValueError(f'config must be a FileSourceConfig, got {type(config).__name__}')
    self._config = config

  def expand(self, pbegin):
    outputs = (
        pbegin
        | 'MatchFiles' >> fileio.MatchFiles(
            self._config.pattern,
            empty_match_treatment=(fileio.EmptyMatchTreatment.ALLOW
                                   if self._config.allow_empty_match
                                   else fileio.EmptyMatchTreatment.DISALLOW))
        | 'OpenFiles' >> fileio.ReadMatches()
        | 'ReadRecords' >> beam.ParDo(_ReadJsonLinesFn()).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG))
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])
