"""One DoFn per file format: a matched file in, RawMessages (and read dead letters) out.

Every reader keeps what it read before a problem and reports the rest as one dead letter
(stage ``read``) naming the file and the position where reading stopped; a file is never
silently skipped. Such a dead letter counts as one record in ``read/records`` so that the
counting invariant (records read == rows written + dead letters) holds for every run.

Source ids: ``path:line`` for JSONL and CSV (the first line of a CSV record that spans
lines), ``path:N`` for the N-th record (1-based) of an Avro or Parquet file.
"""

import json
import logging
import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from transforms import csv_format as csvf
from transforms import record_json
from transforms.errors import DEAD_LETTER_TAG, make_dead_letter
from transforms.messages import RawMessage

_LOG = logging.getLogger(__name__)
UTF8_BOM = b'\xef\xbb\xbf'
PARQUET_BATCH_ROWS = 2048


def iter_lines(handle):
  """Lines of a binary handle, ``\n`` kept. Beam's CompressedFile (``.gz``/``.bz2``) has
  ``readline`` but is not iterable."""
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
  """One RawMessage per line of a file; source id ``path:line`` (1-based)."""
  format = 'jsonl'

  def process(self, readable_file):
    path = readable_file.metadata.path
    attributes = {'file': path, 'format': 'jsonl'}
    line_number = 0
    try:
      with readable_file.open(compression_type=CompressionTypes.AUTO) as handle:
        self._files.inc()
        for line_number, line in enumerate(iter_lines(handle), start=1):
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
      with readable_file.open(compression_type=CompressionTypes.AUTO) as handle:
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
    if cells is None:
      return f'the header row is not valid CSV: {error}'
    names = [c.strip() for c in cells]
    if any(not n for n in names):
      return f'the header row has an empty column name: {cells!r}'
    if len({n.lower() for n in names}) != len(names):
      return f'the header row repeats a column name: {cells!r}'
    expected = self._csv.columns
    if expected and [n.lower() for n in names] != [c.lower() for c in expected]:
      return (f'the header {names!r} differs from the configured columns '
              f'{list(expected)!r}')
    return None


class ReadAvroFn(_FileReaderFn):
  """One RawMessage per Avro record (writer schema from the file); payload = JSON of the
  record (see ``transforms.record_json``); source id ``path:N`` (1-based record number)."""
  format = 'avro'

  def process(self, readable_file):
    yield from self._read(readable_file)

  def _read(self, readable_file):
    import fastavro
    path = readable_file.metadata.path
    attributes = {'file': path, 'format': 'avro'}
    count = 0
    try:
      with readable_file.open(compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        try:
          reader = fastavro.reader(handle)
          convert = record_json.avro_converter(reader.writer_schema)
        except Exception as e:  # pylint: disable=broad-except
          yield self._failed(path, attributes, 'unreadable_file', 1,
                             'as Avro (bad header)', e)
          return
        self._files.inc()
        try:
          for record in reader:
            count += 1
            yield self._message(path, attributes, count, record, convert)
        except Exception as e:  # pylint: disable=broad-except
          yield self._failed(path, attributes, 'corrupt_avro_block', count + 1,
                             f'after record {count}', e)
    except Exception as e:  # pylint: disable=broad-except
      yield self._failed(path, attributes, 'unreadable_file', count + 1,
                         f'after record {count}', e)

  def _message(self, path, attributes, number, record, convert):
    self._records.inc()
    source_id = f'{path}:{number}'
    try:
      payload = record_json.dumps(convert(record))
    except Exception as e:  # pylint: disable=broad-except
      return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          repr(record), stage='read', error_type='unencodable_record',
          message=f'record {number} of {path} cannot be represented as JSON: {e}',
          source_id=source_id, attributes=attributes))
    return RawMessage(payload, attributes, source_id, time.time(), None)


class ReadParquetFn(_FileReaderFn):
  """One RawMessage per Parquet row, read by batches of rows; payload = JSON of the row
  (see ``transforms.record_json``); source id ``path:N`` (1-based row number)."""
  format = 'parquet'

  def __init__(self, batch_rows=PARQUET_BATCH_ROWS):
    super().__init__()
    self._batch_rows = batch_rows

  def process(self, readable_file):
    yield from self._read(readable_file)

  def _read(self, readable_file):
    import pyarrow.parquet as pq
    path = readable_file.metadata.path
    attributes = {'file': path, 'format': 'parquet'}
    count = 0
    try:
      with readable_file.open(compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        try:
          parquet = pq.ParquetFile(handle, page_checksum_verification=True)
          target = _microsecond_schema(parquet.schema_arrow)
          has_maps = _has_type(parquet.schema_arrow, 'map')
          json_columns = _json_columns(parquet.schema_arrow)
        except Exception as e:  # pylint: disable=broad-except
          yield self._failed(path, attributes, 'unreadable_file', 1,
                             'as Parquet (bad footer or not Parquet)', e)
          return
        self._files.inc()
        # Row group by row group: a damaged row group costs its own rows only.
        for group in range(parquet.num_row_groups):
          group_start = count
          group_rows = parquet.metadata.row_group(group).num_rows
          try:
            for batch in parquet.iter_batches(batch_size=self._batch_rows,
                                              row_groups=[group]):
              if target is not None:
                batch = batch.cast(target, safe=False)  # ns -> us: truncate, as BigQuery
              slow = has_maps or _has_non_finite(batch)
              for row in batch.to_pylist():
                count += 1
                yield self._message(path, attributes, count, row, slow, json_columns)
          except Exception as e:  # pylint: disable=broad-except
            lost = group_start + group_rows - count
            yield self._failed(path, attributes, 'corrupt_parquet', count + 1,
                               f'in row group {group} (rows {count + 1} to '
                               f'{group_start + group_rows}, {lost} rows not read)', e)
            count = group_start + group_rows
    except Exception as e:  # pylint: disable=broad-except
      yield self._failed(path, attributes, 'unreadable_file', count + 1,
                         f'after row {count}', e)


  def _message(self, path, attributes, number, row, slow, json_columns):
    self._records.inc()
    source_id = f'{path}:{number}'
    try:
      if json_columns:
        row = dict(row)
        for name in json_columns:
          row[name] = record_json.json_text(row[name])
      payload = record_json.dumps(record_json.generic(row) if slow else row)
    except Exception as e:  # pylint: disable=broad-except
      return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          repr(row), stage='read', error_type='unencodable_record',
          message=f'row {number} of {path} cannot be represented as JSON: {e}',
          source_id=source_id, attributes=attributes))
    return RawMessage(payload, attributes, source_id, time.time(), None)


def _microsecond_schema(schema):
  """The schema with nanosecond timestamps/times as microseconds, or None if it has none."""
  import pyarrow as pa
  changed = False

  def fix(t):
    nonlocal changed
    if pa.types.is_timestamp(t) and t.unit == 'ns':
      changed = True
      return pa.timestamp('us', tz=t.tz)
    if pa.types.is_time64(t) and t.unit == 'ns':
      changed = True
      return pa.time64('us')
    if pa.types.is_struct(t):
      return pa.struct([f.with_type(fix(f.type)) for f in t])
    if pa.types.is_large_list(t):
      return pa.large_list(t.value_field.with_type(fix(t.value_type)))
    if pa.types.is_list(t):
      return pa.list_(t.value_field.with_type(fix(t.value_type)))
    if pa.types.is_map(t):
      return pa.map_(fix(t.key_type), t.item_field.with_type(fix(t.item_type)))
    return t

  fixed = pa.schema([f.with_type(fix(f.type)) for f in schema], metadata=schema.metadata)
  return fixed if changed else None


def _json_columns(schema):
  """Top-level columns of the Arrow JSON extension type (their text is parsed)."""
  import pyarrow as pa
  json_type = getattr(pa, 'JsonType', None)
  if json_type is None:
    return []
  return [f.name for f in schema if isinstance(f.type, json_type)]


def _has_type(schema, kind):
  import pyarrow as pa
  check = {'map': pa.types.is_map}[kind]

  def walk(t):
    if check(t):
      return True
    return any(walk(t.field(i).type) for i in range(t.num_fields))
  return any(walk(f.type) for f in schema)


def _has_non_finite(batch):
  """True when any float in the batch (nested ones too) is NaN or infinite."""
  import pyarrow as pa
  import pyarrow.compute as pc

  def leaves(array):
    t = array.type
    if pa.types.is_floating(t):
      yield array
    elif pa.types.is_struct(t):
      for i in range(t.num_fields):
        yield from leaves(array.field(i))
    elif pa.types.is_map(t):
      yield from leaves(array.keys)
      yield from leaves(array.items)
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
      yield from leaves(array.flatten())

  for column in batch.columns:
    for leaf in leaves(column):
      if leaf.null_count == len(leaf):
        continue
      if pc.any(pc.invert(pc.is_finite(leaf))).as_py():
        return True
  return False

