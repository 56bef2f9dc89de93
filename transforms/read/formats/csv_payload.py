"""CSV dead-letter payloads, read back so the masking policy can apply to them.

A CSV record's dead letter carries the record's exact text and, in its ``csv_columns``
attribute, the file's header (see ``beam_pipelines.transforms.read.formats.csv_format``). ``parse_payload`` maps the
text back onto those names (or the configured ``CsvFormat.columns``) with the same strict
reader the pipeline used; ``to_csv_text`` writes a masked record back as one CSV record.
A record that cannot be mapped onto its columns (wrong number of cells, bad quoting,
undecodable bytes, no column names) is *not* guessed at: the caller falls back to a hash.
"""

import csv
import io
import json

from beam_pipelines.transforms.read.formats import csv_format as csvf

FORMAT_ATTRIBUTE = 'format'


def is_csv_payload(attributes, csv_config):
  """True when a raw dead-letter payload is a CSV record.

  A file reader marks its records ``format: csv`` (and passes ``csv_columns``); a pipeline
  reading CSV from elsewhere (Pub/Sub) gives its ``CsvFormat``: records without a ``format``
  attribute are then CSV too.
  """
  fmt = attributes.get(FORMAT_ATTRIBUTE)
  if fmt is not None:
    return fmt == 'csv'
  return csvf.COLUMNS_ATTRIBUTE in attributes or csv_config is not None


def parse_payload(payload, attributes, csv_config):
  """``(columns, record)`` for a CSV payload: ``record`` is ``{column: cell text}``, or None
  when the payload does not map onto its columns (``columns`` may then be None too)."""
  try:
    columns = csvf.columns_from_attributes(attributes, csv_config)
  except csvf.CsvRecordError:
    return None, None
  try:
    return columns, csvf.parse_record(payload, columns, csv_config)
  except csvf.CsvRecordError:
    return columns, None


def lenient_cells(payload, csv_config):
  """Every cell a lenient reader finds in the payload (for scrubbing messages and erase-list
  checks only: never used to decide what is kept)."""
  # An undecodable byte splits a cell: the parts on either side may be quoted on their own.
  text = payload.decode(csv_config.encoding, errors='replace').replace('\ufffd',
                                                                       csv_config.delimiter)
  cells = []
  try:
    for row in csv.reader(io.StringIO(text, newline=''), delimiter=csv_config.delimiter,
                          quotechar=csv_config.quote_char, strict=False):
      cells.extend(row)
  except csv.Error:
    pass
  # Also the plain delimiter split: a quote the lenient reader honoured may glue cells.
  for line in text.splitlines():
    cells.extend(line.split(csv_config.delimiter))
  return [c for c in (cell.strip().strip(csv_config.quote_char).strip() for cell in cells) if c]


def cell_text(value):
  """A masked value -> CSV cell text (NULL is an empty cell, as the reader reads it)."""
  if value is None:
    return ''
  if isinstance(value, bool):
    return 'true' if value else 'false'
  if isinstance(value, str):
    return value
  if isinstance(value, (int, float)):
    return str(value)
  return json.dumps(value, ensure_ascii=False, separators=(',', ':'))


def to_csv_text(columns, record, csv_config):
  """One CSV record (no line ending) of ``record``'s cells in ``columns`` order."""
  out = io.StringIO()
  writer = csv.writer(out, delimiter=csv_config.delimiter, quotechar=csv_config.quote_char,
                      doublequote=True, quoting=csv.QUOTE_MINIMAL, lineterminator='')
  writer.writerow([cell_text(record.get(c)) for c in columns])
  return out.getvalue()
