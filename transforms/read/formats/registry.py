"""Payload formats by name: the decoder ``ParseAndValidate`` uses for ``ParseConfig.format``.

A decoder turns a payload into a Python object ready for validation, or raises
``DecodeError`` with a stable ``kind`` (the errorType). ``DECODERS`` maps a format name to
``decode_json`` (``json``) or to a factory taking the format's options
(``csv_decoder(csv_format, schema)``, ``avro_decoder(schema)``); ``make_decoder(config,
schema)`` builds the ``decode(payload, attributes)`` a ``ParseConfig`` needs, whatever the
format. New formats register here.

Formats:
- ``json``: one JSON document (``beam_pipelines.transforms.read.formats.jsonl``).
- ``csv``: one CSV record, mapped onto column names (``beam_pipelines.transforms.read.formats.csv_format``).
  Errors: ``csv_column_count``, ``invalid_csv``, ``invalid_encoding``, ``empty_record``.
- ``avro``: one Avro binary datum without container header (a Pub/Sub body, for instance),
  read with the configured writer schema (``beam_pipelines.transforms.read.formats.avro``). Errors:
  ``invalid_avro``, ``empty_record``.
"""

from beam_pipelines.transforms.read.formats import csv_format as csvf
from beam_pipelines.transforms.read.formats.avro import avro_decoder
from beam_pipelines.transforms.read.formats.csv_format import csv_decoder
from beam_pipelines.transforms.read.formats.jsonl import decode_json

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
