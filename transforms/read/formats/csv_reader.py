"""CSV: the file reader, one RawMessage per CSV record (a record may span lines).

The header (when the format has one) travels with every record in the ``csv_columns``
attribute, so the CSV decoder (``beam_pipelines.transforms.read.formats.csv_format``) maps cells to names
per file. A bad header is one ``csv_invalid_header`` dead letter for the file.
"""

import json
import time

from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.read.formats import csv_format as csvf
from beam_pipelines.transforms.read.formats.base import UTF8_BOM, FileReaderFn, iter_lines, open_decompressed


class ReadCsvFn(FileReaderFn):
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
