"""Payload decoders: raw bytes -> a Python object ready for validation.

A decoder is a callable ``decode(payload: bytes) -> object`` that raises ``DecodeError``
with a stable ``kind`` (the errorType) for input it cannot read. New formats register
here; ``ParseAndValidate`` looks them up by name.

Formats:
- ``json``: one JSON document (JSONL lines, Pub/Sub JSON bodies, Avro/Parquet records the
  file readers turned into JSON).
- ``csv``: one CSV record, mapped onto column names (the file's header, carried in the
  ``csv_columns`` attribute, or the configured ``CsvFormat.columns``). Errors:
  ``csv_column_count``, ``invalid_csv``, ``invalid_encoding``, ``empty_record``.
- ``avro``: one Avro binary datum without container header (a Pub/Sub body, for instance),
  read with the configured writer schema and turned into JSON-ready values exactly as Avro
  files are (``transforms.record_json``). Errors: ``invalid_avro`` (truncated or trailing
  bytes, bad union index, invalid UTF-8...), ``empty_record``.

``DECODERS`` maps a format name to ``decode_json`` (``json``) or to a factory taking the
format's options (``csv_decoder(csv_format, schema)``, ``avro_decoder(schema)``);
``make_decoder(config, schema)`` builds the ``decode(payload, attributes)`` a ``ParseConfig``
needs, whatever the format, and is what ``ParseAndValidate`` uses.
"""

import io
import json

import orjson

from transforms import csv_format as csvf
from transforms import record_json

UTF8_BOM = b'\xef\xbb\xbf'


class DecodeError(Exception):
  """A payload that cannot be decoded. ``kind`` is the errorType."""
  def __init__(self, kind, detail):
    super().__init__(detail)
    self.kind = kind
    self.detail = detail


def decode_json(payload):
  """Decodes one JSON document.

  orjson is the fast path. It rejects a few inputs the standard library reads (NaN and
  Infinity tokens, integers beyond 64 bits, lone surrogates, deep nesting); those are
  re-read with the standard library so validation can name the offending *field* (an
  out-of-range integer in ``amount`` is ``out_of_range:amount``, not ``invalid_json``).
  """
  try:
    return orjson.loads(payload)
  except orjson.JSONDecodeError as fast_error:
    fast_reason = str(fast_error)
  if not payload.strip():
    raise DecodeError('empty_record', 'the record is empty')
  try:
    text = payload.decode('utf-8')
  except UnicodeDecodeError as e:
    raise DecodeError('invalid_encoding', f'payload is not valid UTF-8: {e.reason} at byte '
                      f'{e.start}') from None
  if text.startswith('\ufeff'):
    raise DecodeError('invalid_json', 'payload starts with a byte order mark (BOM)')
  try:
    return json.loads(text)
  except RecursionError:
    raise DecodeError('nesting_too_deep', 'JSON nested too deeply to read') from None
  except ValueError:
    raise DecodeError('invalid_json', f'not valid JSON: {fast_reason}') from None


def load_avro_schema(source):
  """A parsed fastavro schema from a dict/list, JSON text, or a ``.avsc`` file path."""
  import fastavro
  where = 'avro_schema'
  if isinstance(source, str):
    text = source
    if not source.lstrip().startswith(('{', '[', '"')):
      where = source
      from apache_beam.io.filesystems import FileSystems
      try:
        with FileSystems.open(source) as f:
          text = f.read().decode('utf-8')
      except Exception as e:  # any filesystem error: say which file
        raise ValueError(f'cannot read Avro schema file {source!r}: {e}') from None
    try:
      source = json.loads(text)
    except ValueError as e:
      raise ValueError(f'{where}: not valid JSON: {e}') from None
  try:
    return fastavro.parse_schema(source)
  except Exception as e:  # fastavro raises several types for bad schemas
    raise ValueError(f'{where}: not a valid Avro schema: {e}') from None


def avro_decoder(schema):
  """A decoder for schemaless Avro binary datums written with ``schema``."""
  from fastavro import schemaless_reader
  parsed = load_avro_schema(schema)
  convert = record_json.avro_converter(parsed)

  def decode_avro(payload):
    if not payload:
      raise DecodeError('empty_record', 'the record is empty')
    stream = io.BytesIO(payload)
    try:
      datum = schemaless_reader(stream, parsed, None)
    except Exception as e:  # EOFError, IndexError, UnicodeDecodeError, ValueError...
      raise DecodeError('invalid_avro', f'not an Avro datum of the configured schema: '
                        f'{type(e).__name__}: {e}') from None
    if stream.tell() != len(payload):
      raise DecodeError('invalid_avro', f'{len(payload) - stream.tell()} trailing bytes after '
                        'the Avro datum (wrong schema?)')
    try:
      return convert(datum)
    except Exception as e:  # pylint: disable=broad-except
      raise DecodeError('invalid_avro', f'Avro value not representable: {e}') from None
  return decode_avro


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


DECODERS = {'json': decode_json, 'csv': csv_decoder, 'avro': avro_decoder}


def get_decoder(name):
  try:
    return DECODERS[name]
  except KeyError:
    raise ValueError(f'unknown payload format {name!r}; known: {sorted(DECODERS)}') from None


def make_decoder(config, schema=None):
  """``decode(payload, attributes) -> object`` for a ParseConfig (format and its options)."""
  get_decoder(config.format)
  if config.format == 'csv':
    return csv_decoder(config.csv or csvf.CsvFormat(header=True), schema)
  if config.format == 'avro':
    decode = avro_decoder(config.avro_schema)
  else:
    decode = DECODERS[config.format]
  return lambda payload, attributes: decode(payload)
