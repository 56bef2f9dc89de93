"""File and payload formats, one module per format: its file reader, its payload decoder and
its payload rules live together.

- ``jsonl``: JSON Lines files; the ``json`` payload decoder.
- ``csv_format`` (the format, record parsing, the ``csv`` decoder), ``csv_reader`` (the file
  reader) and ``csv_payload`` (CSV dead-letter payloads read back for masking).
- ``avro``: Avro container files; the ``avro`` decoder of schemaless datums.
- ``parquet``: Parquet files.
- ``record_json``: typed Avro/Parquet values -> JSON payloads (shared by both).
- ``base``: what they share (decompression, the reader DoFn base, ``DecodeError``).
- ``registry``: payload decoders by name, as ``ParseConfig.format`` names them.
"""

from beam_pipelines.transforms.read.formats.base import DecodeError, FileReaderFn
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat, CsvRecordError
from beam_pipelines.transforms.read.formats.registry import DECODERS, get_decoder, make_decoder

__all__ = ['CsvFormat', 'CsvRecordError', 'DECODERS', 'DecodeError', 'FileReaderFn',
           'get_decoder', 'make_decoder']
