"""One DoFn per file format: a matched file in, RawMessages (and read dead letters) out.

This module holds the shared base and the text formats (JSONL, CSV);
``transforms.typed_file_readers`` holds Avro and Parquet.

Every reader keeps what it read before a problem and reports the rest as one dead letter
(stage ``read``) naming the file and the position where reading stopped; a file is never
silently skipped. Such a dead letter counts as one record in ``read/records`` so that the
counting invariant (records read == rows written + dead letters) holds for every run.

Source ids: ``path:line`` for JSONL and CSV (the first line of a CSV record that spans
lines), ``path:N`` for the N-th record (1-based) of an Avro or Parquet file.
"""

import bz2
import contextlib
import gzip
import json
import logging
import lzma
import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms import csv_format as csvf
from transforms.errors import DEAD_LETTER_TAG, make_dead_letter
from transforms.file_splits import FileRange
from transforms.messages import RawMessage

_LOG = logging.getLogger(__name__)
UTF8_BOM = b'\xef\xbb\xbf'


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


def iter_lines(handle):
  """Lines of a binary handle, ``\n`` kept (readline: not every file object iterates)."""
  readline = handle.readline
  while True:
    line = readline()
    if not line:
      return
    yield line


class _FileReaderFn(beam.DoFn):
  """Shared counters and the read-failure dead letter."""
  format = None

  def __init__(self):
    self._records = Metrics.counter('read', 'records')
    self._files = Metrics.counter('read', 'files')
    self._unreadable = Metrics.counter('read', 'unreadable_files')

  def _failed(self, path, attributes, error_type, position, where, exc, payload=b''):
    """A dead letter for the unread rest of a file (counted as one record read)."""
    _LOG.error('cannot read %s %s: %s: %s', path, where, type(exc).__name__, exc)
    self._unreadable.inc()
    self._records.inc()
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
        payload, stage='read', error_type=error_type,
        message=f'cannot read {path} {where}: {type(exc).__name__}: {exc}',
        source_id=f'{path}:{position}', attributes=attributes))


class ReadJsonLinesFn(_FileReaderFn):
  """One RawMessage per line of a file; source id ``path:line`` (1-based).

  Takes a whole file (a ``ReadableFile``, or a whole-file ``FileRange``) or a range of one
  (a ``FileRange`` from ``transforms.file_splits``: the lines that start in
  ``[start, end)``, numbered from its ``first_line``).
  """
  format = 'jsonl'

  def process(self, element):
    if isinstance(element, FileRange):
      path, start, end, line_number = element.path, element.start, element.end, element.first_line
    else:
      path, start, end, line_number = element.metadata.path, 0, None, 1
    attributes = {'file': path, 'format': 'jsonl'}
    line_number -= 1  # the number of the last line read
    try:
      with open_decompressed(path) as handle:
        if start:
          handle.seek(start)
        else:
          self._files.inc()
        position = start
        for line in iter_lines(handle):
          if end is not None and position >= end:
            break
          position += len(line)
          line_number += 1
          if line_number == 1 and line.startswith(UTF8_BOM):
            line = line[len(UTF8_BOM):]  # a BOM marks the file, not the first record
          if line.endswith(b'\n'):
            line = line[:-2] if line.endswith(b'\r\n') else line[:-1]
          self._records.inc()
          yield RawMessage(line, attributes, f'{path}:{line_number}', time.time(), None)
    except Exception as e:  # pylint: disable=broad-except
      # A file that cannot be (fully) read is reported, never silently skipped.
      yield self._failed(path, attributes, 'unreadable_file', line_number + 1,
                         f'after line {line_number}', e)


class ReadCsvFn(_FileReaderFn):
  """One RawMessage per CSV record; payload = the record's text, source id ``path:line``.

  With ``header``, the first record names the columns; they travel with every record in the
  ``csv_columns`` attribute (a JSON list) so the CSV decoder maps cells to names per file.
  """
  format = 'csv'

  def __init__(self, csv_config):
    super().__init__()
    self._csv = csv_config

  def process(self, readable_file):
    yield from self._read(readable_file)

  def _read(self, readable_file):
    path = readable_file.metadata.path
    cfg = self._csv
    attributes = {'file': path, 'format': 'csv'}
    line = 0
    try:
      with open_decompressed(path) as handle:
        self._files.inc()
        records = csvf.split_records(self._lines(handle), cfg)
        if cfg.header:
          header = next(records, None)
          if header is None:
            return  # an empty file has no records
          line, text, cells, error = header
          problem = self._header_problem(cells, error)
          if problem:
            yield self._failed(path, attributes, 'csv_invalid_header', line,
                               'at its header', ValueError(problem),
                               payload=text.encode(cfg.encoding, 'surrogateescape'))
            return
          attributes['csv_columns'] = json.dumps([c.strip() for c in cells],
                                                 ensure_ascii=False)
        for line, text, _, _ in records:
          self._records.inc()
          yield RawMessage(text.encode(cfg.encoding, 'surrogateescape'), attributes,
                           f'{path}:{line}', time.time(), None)
    except Exception as e:  # pylint: disable=broad-except
      yield self._failed(path, attributes, 'unreadable_file', line + 1,
                         f'after line {line}', e)

  def _lines(self, handle):
    encoding = self._csv.encoding
    first = True
    for raw in iter_lines(handle):
      if first:
        first = False
        if raw.startswith(UTF8_BOM) and encoding.replace('-', '').lower() in ('utf8',
                                                                               'utf8sig'):
          raw = raw[len(UTF8_BOM):]
      # surrogateescape: undecodable bytes survive to the payload and the decoder names them.
      yield raw.decode(encoding, 'surrogateescape')

  def _header_problem(self, cells, error):
    # The header's cells are not quoted here: this text is logged before any masking, and a
    # "header" that is really a data row (a file without one) holds personal data. The dead
    # letter's payload keeps the row (masked by MaskDeadLetters when a policy is set).
    if cells is None:
      return f'the header row is not valid CSV: {error}'
    names = [c.strip() for c in cells]
    if any(not n for n in names):
      return (f'the header row has an empty column name (column '
              f'{names.index("") + 1} of {len(names)})')
    seen = {}
    for i, name in enumerate(names, start=1):
      if name.lower() in seen:
        return (f'the header row repeats a column name (columns {seen[name.lower()]} and '
                f'{i})')
      seen[name.lower()] = i
    expected = self._csv.columns
    if expected and [n.lower() for n in names] != [c.lower() for c in expected]:
      first = next((i for i, (a, b) in enumerate(zip(names, expected, strict=False), start=1)
                    if a.lower() != b.lower()), min(len(names), len(expected)) + 1)
      return (f'the header differs from the configured columns {list(expected)!r} '
              f'({len(names)} names, first difference at column {first})')
    return None
