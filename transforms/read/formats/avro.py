"""Avro: the file reader (one RawMessage per record of an Avro container file) and the decoder
of schemaless Avro datums (e.g. Pub/Sub bodies) written with a configured schema.

Both turn a record into the same JSON-ready values (``beam_pipelines.transforms.read.formats.record_json``),
so a record validates the same whether it came from a file or a message.
"""

import io
import json
import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, make_dead_letter
from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.read.formats import record_json
from beam_pipelines.transforms.read.formats.base import DecodeError, FileReaderFn


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


class ReadAvroFn(FileReaderFn):
  """One RawMessage per Avro record (writer schema from the file); payload = JSON of the
  record (see ``beam_pipelines.transforms.read.formats.record_json``); source id ``path:N`` (1-based record number)."""
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
          record_json.lenient_dumps(record), stage='read', error_type='unencodable_record',
          message=f'record {number} of {path} cannot be represented as JSON: {e}',
          source_id=source_id, attributes=attributes))
    return RawMessage(payload, attributes, source_id, time.time(), None)
