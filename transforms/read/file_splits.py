"""Splitting large line-delimited files so several workers can read one file.

A JSONL file is read record by record with an exact ``path:line`` source id. Read in one
DoFn call, a single big file is a single bundle: one worker parses it while the others wait
(the FnApiRunner with ``--direct_num_workers``, and Dataflow, give each worker bundles).
``PlanFileReads`` cuts every uncompressed JSONL file larger than ``split_bytes`` into byte
ranges that start just after a newline, and counts the newlines before each cut so every
range knows the number of its first line; source ids stay exactly what a whole-file read
gives. Counting is one sequential pass of ``bytes.count`` over the file (gigabytes a second
locally), far cheaper than parsing it.

``SpreadFileReads`` then groups the ranges by their own (distinct) key: a shuffle boundary
that lets the runner hand ranges to different workers (Beam's ``Reshuffle`` keys randomly,
and random keys can pile the few ranges of one file onto one worker).

Compressed files (``.gz``, ``.bz2``...) cannot be entered in the middle and CSV records may
span lines inside quotes: those, and Avro/Parquet files, stay one range per file.
"""

from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems

# 8 MiB ranges: ~11k events of the benchmark's kind. Ranges are dealt to the workers round
# robin, so the slowest worker has at most one range more than the others: 18 ranges for a
# 144 MiB file keep two workers within one range (~5%) of each other, and the per-range
# cost (an open and a seek) does not matter.
DEFAULT_SPLIT_BYTES = 8 << 20
_SCAN_BLOCK = 8 << 20
_COMPRESSED_SUFFIXES = ('.gz', '.gzip', '.bz2', '.xz', '.lzma', '.zst', '.zstd', '.deflate',
                        '.snappy', '.z')


@dataclass(frozen=True)
class FileRange:
  """Bytes ``[start, end)`` of ``path`` (``end`` None: to the end of the file).

  ``first_line`` is the 1-based number of the line that starts at ``start``.
  """
  path: str
  size: Optional[int] = None
  start: int = 0
  end: Optional[int] = None
  first_line: int = 1

  @property
  def is_whole_file(self):
    return self.start == 0 and self.end is None

  # ReadableFile's interface, so a whole-file range goes to readers written for fileio.
  @property
  def metadata(self):
    return FileMetadata(self.path, self.size or 0)

  def open(self, mime_type='application/octet-stream',
           compression_type=CompressionTypes.UNCOMPRESSED):
    return FileSystems.open(self.path, mime_type, compression_type)


def is_splittable(path, file_format):
  return file_format == 'jsonl' and not path.lower().endswith(_COMPRESSED_SUFFIXES)


def line_range_starts(handle, split_bytes, block_size=_SCAN_BLOCK):
  """(byte offset, line number) of every range start after the first, one per cut.

  A cut is placed at the first line start at or after each multiple of ``split_bytes``
  past the previous cut; a line longer than ``split_bytes`` simply makes its range longer.
  """
  starts = []
  offset = 0  # of the block's first byte
  lines_before = 0  # newlines before the block
  target = split_bytes
  while True:
    block = handle.read(block_size)
    if not block:
      return starts
    end = offset + len(block)
    while target <= end:
      newline = block.find(b'\n', max(target - offset - 1, 0))
      if newline < 0:
        break  # the cut lands in a later block, after that block's first newline
      cut = offset + newline + 1
      lines = lines_before + block.count(b'\n', 0, newline + 1)
      starts.append((cut, lines + 1))
      target = cut + split_bytes
    lines_before += block.count(b'\n')
    offset = end
    if target < offset:
      target = offset  # no newline yet since the target: the next one is the cut


def plan_ranges(path, size, file_format, split_bytes):
  """The ``FileRange``s that together read the file exactly once."""
  if not split_bytes or size is None or size <= split_bytes or not is_splittable(
      path, file_format):
    return [FileRange(path, size)]
  try:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
      starts = [cut for cut in line_range_starts(handle, split_bytes) if cut[0] < size]
  except Exception:  # pylint: disable=broad-except
    # Unreadable now (gone, no permission, I/O error): read it whole, so the reader reports
    # it as an unreadable_file dead letter naming the file, as for any other file.
    return [FileRange(path, size)]
  bounds = [(0, 1)] + starts
  ranges = []
  for i, (start, first_line) in enumerate(bounds):
    end = bounds[i + 1][0] if i + 1 < len(bounds) else None
    ranges.append(FileRange(path, size, start, end, first_line))
  return ranges


class _PlanFn(beam.DoFn):
  def __init__(self, file_format, split_bytes):
    self._format = file_format
    self._split_bytes = split_bytes

  def process(self, metadata):
    yield from plan_ranges(metadata.path, metadata.size_in_bytes, self._format,
                           self._split_bytes)


class PlanFileReads(beam.PTransform):
  """File metadata (from ``MatchFiles``) in, ``FileRange``s out."""

  def __init__(self, file_format, split_bytes=DEFAULT_SPLIT_BYTES, label=None):
    super().__init__(label)
    if split_bytes is not None and (not isinstance(split_bytes, int) or split_bytes < 0):
      raise ValueError(f'split_bytes must be a non-negative int, got {split_bytes!r}')
    self._format = file_format
    self._split_bytes = split_bytes

  def expand(self, metadata):
    return metadata | 'Plan' >> beam.ParDo(_PlanFn(self._format, self._split_bytes))


class SpreadFileReads(beam.PTransform):
  """A shuffle boundary keyed by each range, so ranges can go to different workers."""

  def expand(self, ranges):
    return (ranges
            | 'KeyByRange' >> beam.Map(lambda r: ((r.path, r.start), r))
            | 'Group' >> beam.GroupByKey()
            | 'Ungroup' >> beam.FlatMap(lambda kv: kv[1]))
