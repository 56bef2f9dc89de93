"""Leaf modules every other part of the library shares: the raw message every source makes,
the element kinds transforms accept and the source id rows carry, the dead-letter record,
``FallibleResult`` and the adapter from exceptions to dead letters, BigQuery table schemas and
table specs, lineage reporting and the BigQuery client for the local emulator. Nothing here
imports another part of the library.
"""

from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_FIELDS, DEAD_LETTER_TAG,
                                                        ROWS_TAG, STAGES, FallibleResult,
                                                        dead_letter_from_message,
                                                        dead_letter_table_schema, format_exception,
                                                        format_timestamp, make_dead_letter,
                                                        payload_bytes)
from beam_pipelines.transforms.core.messages import RawMessage, raw_message
from beam_pipelines.transforms.core.table_spec import parse_table_spec

__all__ = ['DEAD_LETTER_FIELDS', 'DEAD_LETTER_TAG', 'ROWS_TAG', 'STAGES', 'FallibleResult',
           'RawMessage', 'dead_letter_from_message', 'dead_letter_table_schema',
           'format_exception', 'format_timestamp', 'make_dead_letter', 'parse_table_spec',
           'payload_bytes', 'raw_message']
