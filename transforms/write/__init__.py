"""Writing: rows to BigQuery or lake files, dead letters to any sink, messages to Pub/Sub.

- ``bigquery``: ``WriteRowsToBigQuery`` (failed rows come back as dead letters).
- ``retry_budget``: how long a table's BigQuery calls may keep failing before the run fails.
- ``lake`` / ``lake_types``: ``WriteRowsToFiles`` as JSONL, Avro or Parquet.
- ``dead_letters``: ``WriteDeadLetters``, the one writer for every stage's dead letters.
- ``pubsub``: ``PublishToPubSub``.
"""

from beam_pipelines.transforms.write.bigquery import WRITE_METHODS, BigQuerySinkConfig, WriteRowsToBigQuery
from beam_pipelines.transforms.write.dead_letters import DEAD_LETTER_SINKS, DeadLetterSinkConfig, WriteDeadLetters
from beam_pipelines.transforms.write.lake import LAKE_FORMATS, LakeSinkConfig, WriteRowsToFiles
from beam_pipelines.transforms.write.pubsub import PublishToPubSub
from beam_pipelines.transforms.write.retry_budget import RetryBudgetExceeded

__all__ = ['BigQuerySinkConfig', 'DEAD_LETTER_SINKS', 'DeadLetterSinkConfig', 'LAKE_FORMATS',
           'LakeSinkConfig', 'PublishToPubSub', 'RetryBudgetExceeded', 'WRITE_METHODS',
           'WriteDeadLetters', 'WriteRowsToBigQuery', 'WriteRowsToFiles']
