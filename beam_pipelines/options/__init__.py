"""Command-line options, one module per concern, each turning its flags into a typed config.

This layer only converts: it never builds pipeline steps and never imports
``beam_pipelines.chain`` or ``beam_pipelines.config`` (an architecture test checks it).

- ``values``: ``ConfigError`` and the value parsers (booleans, durations, field lists).
- ``common``: ``CommonOptions`` (schema, validation, BigQuery sink, dead letters).
- ``files`` / ``pubsub``: the two sources (and the lake sink of ``files_to_bigquery``).
- ``cdc``: ``cdc_to_bigquery``'s change format, tables and merge settings.
- ``windowing``, ``masking``, ``enrichment``, ``quality``, ``udf``: the optional stages.
- ``monitoring``: alerts of the SLA rules, ``--fail_on_alert``, the run report, ``--verbose``.
- ``layout``: partitioning, clustering and retention of the tables a run creates.
- ``loads``: ``files_to_bigquery``'s load mode and manifest (exactly-once loads).
- ``notifications``: ``files_to_bigquery``'s continuous ingestion (file notifications).

Beam registers only *direct* subclasses of PipelineOptions with its parser, so every options
class subclasses it directly and defines each flag exactly once across the suite.
"""

from beam_pipelines.options.batching import BatchingOptions
from beam_pipelines.options.common import CommonOptions
from beam_pipelines.options.enrichment import EnrichmentOptions
from beam_pipelines.options.files import FileInputOptions, FilesToBigQueryOptions
from beam_pipelines.options.layout import TableLayoutOptions
from beam_pipelines.options.loads import LoadOptions
from beam_pipelines.options.masking import MaskingOptions
from beam_pipelines.options.monitoring import MonitoringOptions
from beam_pipelines.options.notifications import FileNotificationOptions
from beam_pipelines.options.pubsub import PubSubToBigQueryOptions
from beam_pipelines.options.quality import QualityOptions
from beam_pipelines.options.udf import UdfOptions
from beam_pipelines.options.values import ConfigError
from beam_pipelines.options.windowing import WindowingOptions

__all__ = ['BatchingOptions', 'CommonOptions', 'ConfigError', 'EnrichmentOptions', 'FileInputOptions', 'FileNotificationOptions',
           'FilesToBigQueryOptions', 'LoadOptions',
           'MaskingOptions', 'MonitoringOptions', 'PubSubToBigQueryOptions', 'QualityOptions',
           'TableLayoutOptions', 'UdfOptions', 'WindowingOptions']
