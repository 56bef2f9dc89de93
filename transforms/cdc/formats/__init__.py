"""Change formats: one decoder a format, each turning a record into a ``DecodedChange``.

- ``debezium``: Debezium's change event (with or without the ``{"schema", "payload"}``
  envelope), its values decoded by ``connect_types``.
- ``datastream``: Datastream's JSON records (raw, or staged with ``_metadata_*`` columns).
- ``generic``: a flat row with an operation field and sequence fields.

Each module's docstring states its ordering rule; docs/cdc.md has them in one table.
"""

from beam_pipelines.transforms.cdc.formats.base import ChangeDecoder
from beam_pipelines.transforms.cdc.formats.datastream import DatastreamDecoder
from beam_pipelines.transforms.cdc.formats.debezium import DebeziumDecoder
from beam_pipelines.transforms.cdc.formats.generic import GenericDecoder

DECODERS = {'debezium': DebeziumDecoder, 'datastream': DatastreamDecoder,
            'generic': GenericDecoder}


def make_decoder(config, schema):
  """The decoder of ``config.format`` for rows of ``schema``."""
  return DECODERS[config.format](config, schema)


def row_paths(cdc_format):
  """Where rows sit inside a record of ``cdc_format`` (for MaskDeadLetters' ``row_paths``)."""
  return DECODERS[cdc_format].ROW_PATHS


__all__ = ['ChangeDecoder', 'DECODERS', 'DatastreamDecoder', 'DebeziumDecoder',
           'GenericDecoder', 'make_decoder', 'row_paths']
