"""Parquet: the file reader (pyarrow), one RawMessage per row with the row as JSON payload.

Source id ``path:N`` for the N-th row (1-based). Damage is reported as a read dead letter
naming the file, after keeping what was read before it (``beam_pipelines.transforms.read.formats.base``).
"""

import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, make_dead_letter
from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.read.formats import record_json
from beam_pipelines.transforms.read.formats.base import FileReaderFn

PARQUET_BATCH_ROWS = 2048


class ReadParquetFn(FileReaderFn):
  """One RawMessage per Parquet row, read by batches of rows; payload = JSON of the row
  (see ``beam_pipelines.transforms.read.formats.record_json``); source id ``path:N`` (1-based row number)."""
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
              try:
                rows = batch.to_pylist()
              except Exception:  # pylint: disable=broad-except
                # A value Python cannot hold (a timestamp beyond year 9999...) must cost its
                # own row only, not the row group: convert row by row.
                rows = None
              if rows is None:
                for i in range(batch.num_rows):
                  count += 1
                  try:
                    row = batch.slice(i, 1).to_pylist()[0]
                  except Exception as e:  # pylint: disable=broad-except
                    yield self._unconvertible(path, attributes, count, batch, i, e)
                    continue
                  yield self._message(path, attributes, count, row, slow, json_columns)
                continue
              for row in rows:
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


  def _unconvertible(self, path, attributes, number, batch, index, exc):
    """A read dead letter for a row whose values Python cannot represent."""
    self._records.inc()
    cells = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
      try:
        cells[name] = column[index].as_py()
      except Exception:  # pylint: disable=broad-except
        cells[name] = repr(column[index])
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
        repr(cells), stage='read', error_type='unencodable_record',
        message=f'row {number} of {path} cannot be represented: {type(exc).__name__}: {exc}',
        source_id=f'{path}:{number}', attributes=attributes))

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
          record_json.lenient_dumps(row), stage='read', error_type='unencodable_record',
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
