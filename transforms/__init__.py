"""beam_pipelines.transforms: the public API users compose into their own pipelines.

Every public name is importable from here; the subpackages group them by concern:
``core`` (raw message, element kinds, dead-letter record, table schemas), ``read``,
``validate``, ``masking``, ``enrichment``, ``windowing``, ``quality``, ``udf``, ``write``,
``beam_yaml`` and ``beam_patches`` (every patch of Beam internals, each off until switched on).

One calling convention: a transform that needs the rows' table schema takes it first (a path,
the JSON or a ``TableSchema``; a sink also derives it from its input), its config second, and
everything else by keyword, ``pipeline_name`` included (default: the pipeline's
``--pipeline_name`` or ``--job_name`` option). Every transform that can fail returns a
``FallibleResult(rows, dead_letters)``; every schema helper returns a ``TableSchema``.
"""

from beam_pipelines.transforms import compat
from beam_pipelines.transforms.core import (DEAD_LETTER_TAG, ROWS_TAG, STAGES, FallibleResult,
                                            RawMessage, dead_letter_table_schema,
                                            make_dead_letter, parse_table_spec, raw_message)
from beam_pipelines.transforms.core.beam_rows import ToBeamRows, beam_row_type
from beam_pipelines.transforms.core.elements import (SOURCE_ID_KEY, DropSourceIds,
                                                     without_source_id)
from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema, load_schema
from beam_pipelines.transforms.core.to_dead_letters import ToDeadLetters, to_dead_letter
from beam_pipelines.transforms.enrichment import (BigQueryLookupSource, EnrichmentConfig,
                                                  EnrichWithSideInput, FileLookupSource,
                                                  enriched_schema)
from beam_pipelines.transforms.masking import (LoadEraseList, MaskDeadLetters, MaskingKey,
                                               MaskPII, load_policy, masked_schema)
from beam_pipelines.transforms.quality import (CheckQuality, QualityConfig, load_quality_rules,
                                               quality_output_schema, quality_table_schema)
from beam_pipelines.transforms.read import (CsvFormat, FileSourceConfig, PubSubSourceConfig,
                                            ReadEvents)
from beam_pipelines.transforms.udf import ApplyUserFunction
from beam_pipelines.transforms.validate import (HandleSchemaDrift, ParseAndValidate, ParseConfig,
                                                RecordValidator, SchemaDriftConfig,
                                                ValidationPolicy)
from beam_pipelines.transforms.windowing import (AggregateConfig, TriggerConfig,
                                                 WindowAndAggregate, WindowConfig,
                                                 aggregate_schema)
from beam_pipelines.transforms.write import (BigQuerySinkConfig, DeadLetterSinkConfig,
                                             LakeSinkConfig, PublishToPubSub, WriteDeadLetters,
                                             WriteRowsToBigQuery, WriteRowsToFiles)

compat.install()  # the old flat module paths keep importing, with a DeprecationWarning
if __name__ == compat.OLD_ROOT:  # imported by the top-level name of 0.1: an alias
  compat.deprecated_top_level(globals())

__all__ = [
    # elements and the dead-letter record (core)
    'DEAD_LETTER_TAG', 'DropSourceIds', 'FallibleResult', 'ROWS_TAG', 'RawMessage',
    'SOURCE_ID_KEY', 'STAGES', 'ToDeadLetters', 'make_dead_letter', 'raw_message',
    'to_dead_letter', 'without_source_id',
    # table schemas and the helpers that derive them (each returns a TableSchema)
    'FieldSpec', 'TableSchema', 'aggregate_schema', 'beam_row_type', 'dead_letter_table_schema',
    'enriched_schema', 'load_schema', 'masked_schema', 'parse_table_spec',
    'quality_output_schema', 'quality_table_schema',
    # read
    'CsvFormat', 'FileSourceConfig', 'PubSubSourceConfig', 'ReadEvents',
    # validate
    'HandleSchemaDrift', 'ParseAndValidate', 'ParseConfig', 'RecordValidator',
    'SchemaDriftConfig', 'ValidationPolicy',
    # GDPR masking
    'LoadEraseList', 'MaskDeadLetters', 'MaskPII', 'MaskingKey', 'load_policy',
    # enrichment
    'BigQueryLookupSource', 'EnrichWithSideInput', 'EnrichmentConfig', 'FileLookupSource',
    # windowing
    'AggregateConfig', 'TriggerConfig', 'WindowAndAggregate', 'WindowConfig',
    # quality
    'CheckQuality', 'QualityConfig', 'load_quality_rules',
    # user functions, Beam Rows
    'ApplyUserFunction', 'ToBeamRows',
    # write
    'BigQuerySinkConfig', 'DeadLetterSinkConfig', 'LakeSinkConfig', 'PublishToPubSub',
    'WriteDeadLetters', 'WriteRowsToBigQuery', 'WriteRowsToFiles',
]
