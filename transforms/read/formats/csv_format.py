"""CSV: how a file is split into records and how one record becomes a dict of columns.

The file reader (``beam_pipelines.transforms.read.formats``) splits a CSV file into records, one RawMessage
per record whose payload is the record's exact text (quoted newlines included, line ending
removed) and whose source id is ``file:line`` of the record's *first* line. The CSV decoder
(``beam_pipelines.transforms.read.formats.registry``) parses one such payload back into a ``{column: text}`` dict, which
``ParseAndValidate`` validates with text semantics (``ValidationPolicy(text_input=True)``:
an empty cell is NULL for every type but STRING, numbers and booleans are parsed from text).

Column names come from, in order: the ``csv_columns`` attribute the file reader sets from a
file's header row, or the configured ``columns``. A record with a different number of cells
is a ``csv_column_count`` dead letter.
"""

import csv
import io
import json
from dataclasses import dataclass
from typing import Optional, Tuple

from beam_pipelines.transforms.read.formats import csv_format as csvf
from beam_pipelines.transforms.read.formats.base import DecodeError

# The attribute in which the file reader passes a file's header (a JSON list of names).
COLUMNS_ATTRIBUTE = 'csv_columns'


class CsvRecordError(ValueError):
  """A CSV record that cannot be read. ``kind`` is the errorType."""
  def __init__(self, kind, detail):
    super().__init__(detail)
    self.kind = kind
    self.detail = detail


@dataclass(frozen=True)
class CsvFormat:
  """How CSV text is read.

  Attributes:
    delimiter: one character (``,``; ``\\t`` for TSV).
    quote_char: one character quoting cells that hold the delimiter, quotes or newlines
      (a quote inside a quoted cell is doubled, RFC 4180).
    header: the first line of every file names the columns.
    columns: column names when files have no header (required then), or to check a header
      against: with both, a file whose header differs is reported as ``csv_header_mismatch``.
    encoding: text encoding of the files (``utf-8``; a UTF-8 BOM is skipped); any
      ASCII-compatible encoding (latin-1, cp1252...), not UTF-16/32.
  """
  delimiter: str = ','
  quote_char: str = '"'
  header: bool = True
  columns: Optional[Tuple[str, ...]] = None
  encoding: str = 'utf-8'

  def __post_init__(self):
    if not isinstance(self.delimiter, str) or len(self.delimiter) != 1:
      raise ValueError(f'csv delimiter must be one character, got {self.delimiter!r}')
    if self.delimiter in ('\r', '\n'):
      raise ValueError('csv delimiter cannot be a line break')
    if not isinstance(self.quote_char, str) or len(self.quote_char) != 1:
      raise ValueError(f'csv quote_char must be one character, got {self.quote_char!r}')
    if self.quote_char == self.delimiter:
      raise ValueError('csv quote_char and delimiter must differ')
    if self.columns is not None:
      columns = tuple(self.columns)
      if not columns or any(not isinstance(c, str) or not c.strip() for c in columns):
        raise ValueError(f'csv columns must be non-empty names, got {self.columns!r}')
      lowered = [c.strip().lower() for c in columns]
      if len(set(lowered)) != len(lowered):
        raise ValueError(f'csv columns must be unique, got {self.columns!r}')
      object.__setattr__(self, 'columns', tuple(c.strip() for c in columns))
    if not self.header and not self.columns:
      raise ValueError('csv columns are required when files have no header row')
    try:
      ascii_compatible = '\n,"x'.encode(self.encoding) == b'\n,"x'
    except LookupError:
      raise ValueError(f'csv encoding {self.encoding!r} is unknown') from None
    if not ascii_compatible:
      # Files are split into lines on b'\n' before decoding.
      raise ValueError(f'csv encoding {self.encoding!r} is not ASCII-compatible '
                       '(UTF-16/32 are not supported; convert to UTF-8)')

  def reader(self, lines):
    return csv.reader(lines, delimiter=self.delimiter, quotechar=self.quote_char,
                      doublequote=True, strict=True)


def parse_columns(text):
  """``a,b,c`` -> ('a', 'b', 'c') (the ``--csv_columns`` option)."""
  if text is None or not str(text).strip():
    return None
  return tuple(c.strip() for c in str(text).split(','))


def split_records(text_lines, csv_format):
  """Yields ``(first_line_number, record_text, cells, error)`` for each CSV record of a file.

  ``text_lines`` iterates the file's decoded lines (line endings kept). A record that spans
  lines (a quoted cell holding a newline) is one item whose line number is its first line.
  Blank lines yield nothing. A record the CSV grammar rejects (a stray quote, an unterminated
  quoted cell at the end of the file) yields ``cells=None`` and the ``csv.Error`` text, so the
  caller can report it and read on.
  """
  consumed = []
  line_number = 0

  def lines():
    nonlocal line_number
    for line in text_lines:
      line_number += 1
      consumed.append(line)
      yield line

  reader = csv_format.reader(lines())
  while True:
    consumed.clear()
    error = None
    try:
      cells = next(reader)
    except StopIteration:
      return
    except csv.Error as e:
      cells, error = None, str(e)
    if not consumed:
      return
    first = line_number - len(consumed) + 1
    text = ''.join(consumed)
    if text.endswith('\n'):
      text = text[:-2] if text.endswith('\r\n') else text[:-1]
    if cells is not None and not cells:
      continue  # a blank line is not a record
    yield first, text, cells, error


def parse_record(payload, columns, csv_format):
  """One CSV record's bytes -> ``{column: cell text}``.

  Raises CsvRecordError (``invalid_encoding``, ``invalid_csv``, ``empty_record`` or
  ``csv_column_count``) for a record it cannot map onto the columns.
  """
  try:
    text = payload.decode(csv_format.encoding)
  except UnicodeDecodeError as e:
    raise CsvRecordError('invalid_encoding', f'payload is not valid {csv_format.encoding}: '
                         f'{e.reason} at byte {e.start}') from None
  if not text.strip():
    raise CsvRecordError('empty_record', 'the record is empty')
  try:
    rows = list(csv_format.reader(io.StringIO(text, newline='')))
  except csv.Error as e:
    raise CsvRecordError('invalid_csv', f'not valid CSV: {e}') from None
  rows = [r for r in rows if r]
  if len(rows) != 1:
    raise CsvRecordError('invalid_csv', f'expected one CSV record, found {len(rows)}')
  cells = rows[0]
  if len(cells) != len(columns):
    raise CsvRecordError('csv_column_count', f'expected {len(columns)} columns '
                         f'({", ".join(columns[:10])}{", ..." if len(columns) > 10 else ""}), '
                         f'got {len(cells)}')
  return dict(zip(columns, cells, strict=True))


def columns_from_attributes(attributes, csv_format):
  """The column names for a record: the file's header attribute, else the configured ones."""
  header = attributes.get(COLUMNS_ATTRIBUTE) if attributes else None
  if header:
    try:
      columns = json.loads(header)
    except ValueError:
      columns = None
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
      raise CsvRecordError('csv_invalid_columns_attribute',
                           f'the {COLUMNS_ATTRIBUTE} attribute is not a JSON list of names: '
                           f'{header[:200]!r}')
    return tuple(columns)
  if csv_format.columns:
    return csv_format.columns
  raise CsvRecordError('csv_no_columns', 'no column names: the record has no csv_columns '
                       'attribute (file header) and no columns are configured')


def check_schema_for_csv(schema):
  """Raises ValueError when a CSV record could never satisfy ``schema``.

  CSV cells are flat text: they cannot carry RECORD or REPEATED values. A NULLABLE RECORD
  stays NULL and a REPEATED column stays empty (a non-empty cell for one is a
  ``type_mismatch`` dead letter); a REQUIRED RECORD could never be filled, so such a schema
  is rejected when the pipeline is built.
  """
  required_records = [f.name for f in schema.fields if f.type == 'RECORD' and f.required]
  if required_records:
    raise ValueError(f'CSV records cannot fill REQUIRED RECORD column(s) '
                     f'{", ".join(required_records)}: CSV cells are flat text')


def csv_decoder(csv_config, schema=None):
  """A decoder for one CSV record (``decode(payload, attributes)``).

  With a schema, an empty cell of a RECORD or REPEATED column is dropped (NULL / empty
  array): CSV cannot carry those values, and a non-empty cell fails validation as a
  ``type_mismatch``.
  """
  nested = set()
  if schema is not None:
    nested = {f.name.lower() for f in schema.fields if f.type == 'RECORD' or f.repeated}

  def decode_csv(payload, attributes):
    try:
      columns = csvf.columns_from_attributes(attributes, csv_config)
      record = csvf.parse_record(payload, columns, csv_config)
    except csvf.CsvRecordError as e:
      raise DecodeError(e.kind, e.detail) from None
    if nested:
      for name in [k for k, v in record.items() if v == '' and k.lower() in nested]:
        del record[name]
    return record
  return decode_csv
