"""What every file format shares: opening (de)compressed files, the reader DoFn base, and the
decode error.

A file reader (``FileReaderFn`` subclass, one per format) takes a matched file and yields
RawMessages. It keeps what it read before a problem and reports the rest as one dead letter
(stage ``read``) naming the file and the position where reading stopped; a file is never
silently skipped. Such a dead letter counts as one record in ``read/records`` so that the
counting invariant (records read == rows written + dead letters) holds for every run.

A decoder (``decode(payload) -> object``, one per payload format) raises ``DecodeError``
with a stable ``kind`` (the errorType) for a payload it cannot read.

Source ids: ``path:line`` for JSONL and CSV (the first line of a CSV record that spans
lines), ``path:N`` for the N-th record (1-based) of an Avro or Parquet file.
"""

import bz2
import contextlib
import gzip
import logging
import lzma
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, make_dead_letter

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


class FileReaderFn(beam.DoFn):
  """Shared counters and the read-failure dead letter."""
  format: Optional[str] = None  # each reader names its format

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


UTF8_BOM = b'\xef\xbb\xbf'


class DecodeError(Exception):
  """A payload that cannot be decoded. ``kind`` is the errorType."""
  def __init__(self, kind, detail):
    super().__init__(detail)
    self.kind = kind
    self.detail = detail
