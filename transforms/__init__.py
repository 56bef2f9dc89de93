"""beam-pipelines transforms: the public API users compose into their own pipelines."""

from transforms.csv_format import CsvFormat
from transforms.dead_letters import DeadLetterSinkConfig, WriteDeadLetters
from transforms.enrichment import EnrichmentConfig, EnrichWithSideInput
from transforms.enrichment_sources import BigQueryLookupSource, FileLookupSource
from transforms.errors import (DEAD_LETTER_TAG, ROWS_TAG, FallibleResult,
                               dead_letter_table_schema, make_dead_letter)
from transforms.lake_sink import LakeSinkConfig, WriteRowsToFiles
from transforms.masking import (LoadEraseList, MaskDeadLetters, MaskingKey, MaskPII,
                                load_policy, masked_schema)
from transforms.messages import RawMessage, raw_message
from transforms.parse import ParseAndValidate, ParseConfig
from transforms.pubsub_publish import PublishToPubSub
from transforms.schema import FieldSpec, TableSchema, load_schema
from transforms.sinks import BigQuerySinkConfig, WriteRowsToBigQuery
from transforms.sources import FileSourceConfig, ReadEvents
from transforms.validate import RecordValidator, ValidationPolicy

__all__ = [
    'BigQuerySinkConfig', 'DEAD_LETTER_TAG', 'DeadLetterSinkConfig', 'FallibleResult',
    'FieldSpec', 'FileSourceConfig', 'ParseAndValidate', 'ParseConfig', 'ROWS_TAG',
    'RawMessage', 'ReadEvents', 'RecordValidator', 'TableSchema', 'ValidationPolicy',
    'WriteDeadLetters', 'WriteRowsToBigQuery', 'dead_letter_table_schema', 'load_schema',
    'make_dead_letter', 'raw_message',
    'CsvFormat', 'LakeSinkConfig', 'PublishToPubSub', 'WriteRowsToFiles',
    # GDPR masking (transforms.masking)
    'LoadEraseList', 'MaskDeadLetters', 'MaskPII', 'MaskingKey', 'load_policy', 'masked_schema',
    # enrichment
    'BigQueryLookupSource', 'EnrichWithSideInput', 'EnrichmentConfig', 'FileLookupSource',
]

# Streaming source and event-time windowing (issue 4).
from transforms.aggregates import AggregateConfig  # noqa: E402
from transforms.pubsub_source import PubSubSourceConfig  # noqa: E402
from transforms.windowing import TriggerConfig, WindowAndAggregate, WindowConfig  # noqa: E402

__all__ += ['AggregateConfig', 'PubSubSourceConfig', 'TriggerConfig', 'WindowAndAggregate',
            'WindowConfig']
