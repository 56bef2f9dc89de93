"""FileLookupSource: a lookup table in a JSONL or CSV file, local or on ``gs://``."""

import csv
import json
from dataclasses import dataclass
from typing import Optional

from beam_pipelines.transforms.enrichment.sources.base import LookupSource, LookupSourceError

LOOKUP_FILE_FORMATS = ('jsonl', 'csv')
_SUFFIXES = {'.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'jsonl', '.csv': 'csv'}


def format_from_path(path):
  """The lookup format implied by a file name (``.jsonl``/``.ndjson``/``.json``/``.csv``,
  optionally followed by ``.gz``/``.bz2``), or None."""
  name = path.lower()
  for compressed in ('.gz', '.bz2'):
    if name.endswith(compressed):
      name = name[:-len(compressed)]
  for suffix, fmt in _SUFFIXES.items():
    if name.endswith(suffix):
      return fmt
  return None


@dataclass(frozen=True)
class FileLookupSource(LookupSource):
  """A lookup file.

  Attributes:
    path: one file, local or ``gs://`` (``.gz``/``.bz2`` decompressed by suffix). Read on
      every load, so a refreshing enrichment sees the file's current content.
    format: ``jsonl`` (one JSON object per line; values keep their JSON types) or ``csv``
      (a header row, then one record per row; every value is a string, an empty cell is
      null). Default: from the file suffix.

  Errors: a missing/unreadable file, a line that is not a JSON object, or a CSV row with
  more cells than the header raises ``LookupSourceError`` naming the file and line; a lookup
  is a reference table, so a broken one fails loudly instead of silently joining nothing.
  """
  path: str
  format: Optional[str] = None

  def __post_init__(self):
    if not isinstance(self.path, str) or not self.path.strip():
      raise ValueError('path must be a non-empty file path')
    fmt = self.format or format_from_path(self.path)
    if fmt is None:
      raise ValueError(f'format: cannot tell the format of {self.path!r} from its suffix; '
                       f'say one of {LOOKUP_FILE_FORMATS}')
    if fmt not in LOOKUP_FILE_FORMATS:
      raise ValueError(f'format must be one of {LOOKUP_FILE_FORMATS}, got {fmt!r}')
    object.__setattr__(self, 'format', fmt)

  def describe(self):
    return self.path

  def read(self):
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    try:
      handle = FileSystems.open(self.path, compression_type=CompressionTypes.AUTO)
    except Exception as e:  # any filesystem error: say which file
      raise LookupSourceError(f'cannot open lookup file {self.path}: {e}') from None
    with handle:
      text = self._text_lines(handle)
      if self.format == 'csv':
        yield from self._read_csv(text)
      else:
        yield from self._read_jsonl(text)

  def _text_lines(self, handle):
    """Decoded lines (with their line ends) of a binary handle; a leading BOM is skipped.
    (Beam's compressed-file handles cannot be wrapped in io.TextIOWrapper.)"""
    number = 0
    while True:
      raw = handle.readline()  # compressed-file handles are not iterable
      if not raw:
        return
      number += 1
      if number == 1 and raw.startswith(b'\xef\xbb\xbf'):
        raw = raw[3:]
      try:
        yield raw.decode('utf-8')
      except UnicodeDecodeError as e:
        raise LookupSourceError(f'{self.path}:{number}: not UTF-8: {e}') from None

  def _read_jsonl(self, text):
    for number, line in enumerate(text, start=1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except ValueError as e:
        raise LookupSourceError(f'{self.path}:{number}: not valid JSON: {e}') from None
      if not isinstance(record, dict):
        raise LookupSourceError(f'{self.path}:{number}: expected a JSON object')
      yield record

  def _read_csv(self, text):
    reader = csv.reader(text)
    header = next(reader, None)
    if not header:
      return
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
      raise LookupSourceError(f'{self.path}:1: duplicate column names in the header')
    for row in reader:
      if not row or (len(row) == 1 and not row[0].strip()):
        continue
      if len(row) > len(header):
        raise LookupSourceError(f'{self.path}:{reader.line_num}: {len(row)} cells for '
                                f'{len(header)} columns')
      yield {name: (row[i] if i < len(row) and row[i] != '' else None)
             for i, name in enumerate(header)}
