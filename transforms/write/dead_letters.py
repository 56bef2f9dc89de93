"""WriteDeadLetters: the one writer for the dead letters of every stage.

Three sinks, one record shape (``beam_pipelines.transforms.core.dead_letter``):
- ``bigquery``: a table with the dead-letter schema (created if needed).
- ``files``: JSONL files, one record per line. Batch: ``<path>-SSSSS-of-NNNNN.jsonl``.
  Streaming (unbounded input): records are cut into fixed windows of ``window_seconds`` and
  each window is written as its own files (``fileio.WriteToFiles``), named
  ``<prefix>-<window start>-<window end>-<pane>-SSSSS-of-NNNNN.jsonl`` in ``path``'s folder.
- ``pubsub``: one message per record; data = the record as JSON (UTF-8), attributes
  ``errorType``, ``stage`` and ``sourceId`` so subscribers can filter without parsing.
"""

import json
import logging
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.transforms import window

from beam_pipelines.transforms.core.dead_letter import dead_letter_table_schema, pipeline_name_of
from beam_pipelines.transforms.core.elements import DeadLetter
from beam_pipelines.transforms.core.to_dead_letters import to_dead_letter
from beam_pipelines.transforms.core.table_layout import TableLayout
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig, WriteRowsToBigQuery
from beam_pipelines.transforms.write.lake import LakeSinkConfig, file_sink_factory
from beam_pipelines.transforms.write.pubsub import PublishToPubSub, check_topic
from beam_pipelines.transforms.write.retry_budget import check_retry_budget

_LOG = logging.getLogger(__name__)
DEAD_LETTER_SINKS = ('bigquery', 'files', 'pubsub')
ERROR_TABLE_SUFFIX = '_error_records'
DEFAULT_WINDOW_SECONDS = 60


def default_dead_letter_path(output_path):
  """``<output_path>_error_records``: dead letters next to lake files, as for tables."""
  return output_path.rstrip('/') + ERROR_TABLE_SUFFIX


def dead_letter_layout(retention_days=None):
  """The layout of a dead-letter table the suite partitions: by ``timestamp`` (when the
  failure was seen), one partition a day, clustered by ``errorType``; partitions expire after
  ``retention_days`` (None: kept)."""
  return TableLayout('timestamp', 'DAY', ('errorType',), retention_days)


def default_dead_letter_table(output_table):
  """``<output_table>_error_records``, the DataflowTemplates convention."""
  parse_table_spec(output_table, 'output_table')
  return output_table + ERROR_TABLE_SUFFIX


@dataclass(frozen=True)
class DeadLetterSinkConfig:
  """Where dead letters go.

  Attributes:
    kind: ``bigquery`` (a table with the DESIGN.md dead-letter schema, created if needed),
      ``files`` (JSONL files under ``path``, one record per line, same field names) or
      ``pubsub`` (one JSON message per record on ``topic``).
    table: the BigQuery table (kind ``bigquery``).
    path: a file prefix (kind ``files``), local or gs://.
    write_method: STREAMING_INSERTS or FILE_LOADS for kind ``bigquery``.
    topic: ``projects/P/topics/T`` (kind ``pubsub``).
    window_seconds: streaming ``files`` only: one set of files per window of this length.
    retry_budget_seconds: kind ``bigquery``: as ``BigQuerySinkConfig.retry_budget_seconds``
      (0: Beam's own retries, without a limit of ours).
    layout: kind ``bigquery``: the table's partitioning, clustering and retention when it is
      created (a ``TableLayout``, e.g. ``dead_letter_layout(30)``); None: neither.
  """
  kind: str = 'bigquery'
  table: Optional[str] = None
  path: Optional[str] = None
  write_method: str = 'STREAMING_INSERTS'
  temp_location: Optional[str] = None
  topic: Optional[str] = None
  window_seconds: int = DEFAULT_WINDOW_SECONDS
  retry_budget_seconds: float = 0
  layout: Optional[TableLayout] = None

  def __post_init__(self):
    check_retry_budget(self.retry_budget_seconds)
    if self.layout is not None:
      if not isinstance(self.layout, TableLayout):
        raise ValueError(f'layout must be a TableLayout, got {type(self.layout).__name__}')
      if self.kind != 'bigquery':
        raise ValueError('layout is for a bigquery dead-letter sink (a table), not '
                         f'{self.kind}')
      self.layout.for_schema(dead_letter_table_schema())
    if self.kind not in DEAD_LETTER_SINKS:
      raise ValueError(f'dead letter sink kind must be one of {DEAD_LETTER_SINKS}, '
                       f'got {self.kind!r}')
    if self.kind == 'bigquery':
      if not self.table:
        raise ValueError('dead_letter_table is required for a bigquery dead-letter sink')
      parse_table_spec(self.table, 'dead_letter_table')
    if self.kind == 'files' and not self.path:
      raise ValueError('dead_letter_path is required for a files dead-letter sink')
    if self.kind == 'pubsub':
      if not self.topic:
        raise ValueError('dead_letter_topic is required for a pubsub dead-letter sink')
      check_topic(self.topic, 'dead_letter_topic')
    if self.window_seconds <= 0:
      raise ValueError(f'window_seconds must be positive, got {self.window_seconds}')


class _CountByErrorTypeFn(beam.DoFn):
  """Counts dead letters by errorType (``dead_letters/<errorType>``) and in total. An element
  that is not a dead-letter record yet (Beam's ``with_exception_handling`` output, an
  ``(element, exception)`` pair, anything else) is made one first: nothing is dropped."""
  def __init__(self, pipeline_name=None):
    self._pipeline_name = pipeline_name
    self._total = Metrics.counter('dead_letters', 'total')
    self._counters = {}

  def process(self, element):
    record = to_dead_letter(element, 'user', self._pipeline_name)
    error_type = record.get('errorType') or 'unknown'
    counter = self._counters.get(error_type)
    if counter is None:
      counter = self._counters[error_type] = Metrics.counter('dead_letters', error_type)
    counter.inc()
    self._total.inc()
    yield record


def _to_json(record):
  return json.dumps(record, ensure_ascii=False, sort_keys=True)


def _to_message(record):
  """A dead letter -> (JSON bytes, attributes errorType/stage/sourceId)."""
  attributes = {k: record.get(k) for k in ('errorType', 'stage', 'sourceId')}
  return _to_json(record).encode('utf-8'), attributes


def _is_streaming(pcoll):
  options = pcoll.pipeline.options
  streaming = bool(options and options.view_as(StandardOptions).streaming)
  return streaming or not pcoll.is_bounded


def _log_unwritable(record):
  # A dead letter the dead-letter table itself rejects has nowhere else to go: say so loudly.
  _LOG.error('dead letter could not be written (errorType=%s, sourceId=%s): %s',
             record.get('errorType'), record.get('sourceId'), record.get('errorMessage'))
  return record


class WriteDeadLetters(beam.PTransform):
  """Writes dead-letter records (see ``beam_pipelines.transforms.core.dead_letter``) to BigQuery, JSONL files or
  Pub/Sub, in batch or streaming pipelines.

  Input: one PCollection of dead letters (flatten the stages' outputs first, or pass a
  tuple/list of PCollections). Beam's own error outputs (``with_exception_handling``) and
  ``(element, exception)`` pairs are accepted too and become dead letters of stage ``user``
  (use ``ToDeadLetters(stage=...)`` to name the stage). Output: the records the sink could
  not write (BigQuery only; each also logged at ERROR and counted as
  ``dead_letters/unwritable``).

  Args:
    config: a ``DeadLetterSinkConfig``.
    pipeline_name: recorded in dead letters this step makes (default: the pipeline's
      options).
    commit: kind ``bigquery``: a ``LoadCommit`` the dead letters are staged for (committed
      with the run's rows and manifest entries) instead of written at once; kind ``files``
      (batch): a ``LakeCommit``, whose run folder under ``path`` they are written to.

  Example::

      (read.dead_letters, parsed.dead_letters, failed) | WriteDeadLetters(
          DeadLetterSinkConfig(table='p:ds.events_error_records'))
  """

  def __init__(self, config, *, pipeline_name=None, commit=None, label=None):
    super().__init__(label)
    if not isinstance(config, DeadLetterSinkConfig):
      raise ValueError(f'config must be a DeadLetterSinkConfig, got {type(config).__name__}')
    if commit is not None and config.kind == 'pubsub':
      raise ValueError('commit is for a bigquery or files dead-letter sink, not pubsub')
    self._config = config
    self._pipeline_name = pipeline_name
    self._commit = commit

  def expand(self, dead_letters):
    if isinstance(dead_letters, (tuple, list)):
      dead_letters = dead_letters | 'Flatten' >> beam.Flatten()
    pipeline_name = pipeline_name_of(dead_letters.pipeline, self._pipeline_name)
    counted = dead_letters | 'CountByType' >> beam.ParDo(
        _CountByErrorTypeFn(pipeline_name)).with_output_types(DeadLetter)
    config = self._config
    if config.kind == 'files' and self._commit is not None:
      self._commit.write_files(
          counted | 'ToJsonWithSource' >> beam.Map(
              lambda r: (r.get('sourceId'), _to_json(r).encode('utf-8'))),
          'dead_letters', config.path,
          file_sink_factory(LakeSinkConfig(config.path, 'jsonl'), None), '.jsonl')
      return dead_letters.pipeline | 'NothingUnwritable' >> beam.Create([])
    if config.kind == 'files' and _is_streaming(dead_letters):
      folder, prefix = FileSystems.split(config.path)
      _ = (counted
           | 'Window' >> beam.WindowInto(window.FixedWindows(config.window_seconds))
           | 'ToJson' >> beam.Map(_to_json)
           | 'WriteWindowedFiles' >> fileio.WriteToFiles(
               path=folder or '.', file_naming=fileio.default_file_naming(
                   prefix or 'dead_letters', '.jsonl'), shards=1))
      return dead_letters.pipeline | 'NothingUnwritable' >> beam.Create([])
    if config.kind == 'files':
      _ = (counted
           | 'ToJson' >> beam.Map(_to_json)
           | 'WriteFiles' >> beam.io.WriteToText(config.path, file_name_suffix='.jsonl'))
      return dead_letters.pipeline | 'NothingUnwritable' >> beam.Create([])
    if config.kind == 'pubsub':
      _ = (counted
           | 'ToMessage' >> beam.Map(_to_message)
           | 'Publish' >> PublishToPubSub(config.topic, metric_namespace='dead_letter_pubsub'))
      return dead_letters.pipeline | 'NothingUnwritable' >> beam.Create([])
    failed = counted | 'WriteTable' >> WriteRowsToBigQuery(
        dead_letter_table_schema(),
        BigQuerySinkConfig(table=config.table, write_method=config.write_method,
                           temp_location=config.temp_location,
                           retry_budget_seconds=config.retry_budget_seconds,
                           layout=config.layout),
        pipeline_name=pipeline_name, metric_name='dead_letters', commit=self._commit)
    return failed | 'LogUnwritable' >> beam.Map(_log_unwritable)
