"""beam_pipelines.transforms: the public API users compose into their own pipelines.

Every public name is importable from here; the subpackages group them by concern:
``core`` (raw message, dead-letter record), ``read``, ``validate``, ``masking``,
``enrichment``, ``windowing``, ``quality``, ``udf``, ``write``, ``beam_yaml`` and
``beam_patches`` (every patch of Beam internals, each off until switched on).
"""

from beam_pipelines.transforms import compat
from beam_pipelines.transforms.core import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult, RawMessage,
                             dead_letter_table_schema, make_dead_letter, parse_table_spec,
                             raw_message)
from beam_pipelines.transforms.enrichment import (BigQueryLookupSource, EnrichmentConfig, EnrichWithSideInput,
                                   FileLookupSource, enriched_schema)
from beam_pipelines.transforms.masking import (LoadEraseList, MaskDeadLetters, MaskingKey, MaskPII, load_policy,
                                masked_schema)
from beam_pipelines.transforms.quality import CheckQuality, QualityConfig, load_quality_rules
from beam_pipelines.transforms.read import CsvFormat, FileSourceConfig, PubSubSourceConfig, ReadEvents
from beam_pipelines.transforms.udf import ApplyUserFunction
from beam_pipelines.transforms.validate import (FieldSpec, HandleSchemaDrift, ParseAndValidate, ParseConfig,
                                 RecordValidator, SchemaDriftConfig, TableSchema, ValidationPolicy,
                                 load_schema)
from beam_pipelines.transforms.windowing import AggregateConfig, TriggerConfig, WindowAndAggregate, WindowConfig
from beam_pipelines.transforms.write import (BigQuerySinkConfig, DeadLetterSinkConfig, LakeSinkConfig,
                              PublishToPubSub, WriteDeadLetters, WriteRowsToBigQuery,
                              WriteRowsToFiles)

compat.install()  # the old flat module paths keep importing, with a DeprecationWarning
if __name__ == compat.OLD_ROOT:  # imported by the top-level name of 0.1: an alias
  compat.deprecated_top_level(globals())

__all__ = [
    # the raw message and the dead-letter record (core)
    'DEAD_LETTER_TAG', 'FallibleResult', 'ROWS_TAG', 'RawMessage', 'dead_letter_table_schema',
    'make_dead_letter', 'parse_table_spec', 'raw_message',
    # read
    'CsvFormat', 'FileSourceConfig', 'PubSubSourceConfig', 'ReadEvents',
    # validate
    'FieldSpec', 'HandleSchemaDrift', 'ParseAndValidate', 'ParseConfig', 'RecordValidator',
    'SchemaDriftConfig', 'TableSchema', 'ValidationPolicy', 'load_schema',
    # GDPR masking
    'LoadEraseList', 'MaskDeadLetters', 'MaskPII', 'MaskingKey', 'load_policy', 'masked_schema',
    # enrichment
    'BigQueryLookupSource', 'EnrichWithSideInput', 'EnrichmentConfig', 'FileLookupSource',
    'enriched_schema',
    # windowing
    'AggregateConfig', 'TriggerConfig', 'WindowAndAggregate', 'WindowConfig',
    # quality
    'CheckQuality', 'QualityConfig', 'load_quality_rules',
    # user functions
    'ApplyUserFunction',
    # write
    'BigQuerySinkConfig', 'DeadLetterSinkConfig', 'LakeSinkConfig', 'PublishToPubSub',
    'WriteDeadLetters', 'WriteRowsToBigQuery', 'WriteRowsToFiles',
]
