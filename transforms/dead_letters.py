"""WriteDeadLetters: the one writer for the dead letters of every stage."""

import json
import logging
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.errors import dead_letter_table_schema
from transforms.sinks import BigQuerySinkConfig, WriteRowsToBigQuery, parse_table_spec

_LOG = logging.getLogger(__name__)
DEAD_LETTER_SINKS = ('bigquery', 'files')
ERROR_TABLE_SUFFIX = '_error_records'


def default_dead_letter_table(output_table):
  """``<output_table>_error_records``, the DataflowTemplates convention."""
  parse_table_spec(output_table, 'output_table')
  return output_table + ERROR_TABLE_SUFFIX


@dataclass(frozen=True)
class DeadLetterSinkConfig:
  """Where dead letters go.

  Attributes:
    kind: ``bigquery`` (a table with the DESIGN.md dead-letter schema, created if needed)
      or ``files`` (JSONL files under ``path``, one record per line, same field names).
    table: the BigQuery table (kind ``bigquery``).
    path: a file prefix (kind ``files``), local or gs://.
    write_method: STREAMING_INSERTS or FILE_LOADS for kind ``bigquery``.
  """
  kind: str = 'bigquery'
  table: Optional[str] = None
  path: Optional[str] = None
  write_method: str = 'STREAMING_INSERTS'
  temp_location: Optional[str] = None

  def __post_init__(self):
    if self.kind not in DEAD_LETTER_SINKS:
      raise ValueError(f'dead letter sink kind must be one of {DEAD_LETTER_SINKS}, '
                       f'got {self.kind!r}')
    if self.kind == 'bigquery':
      if not self.table:
        raise ValueError('dead_letter_table is required for a bigquery dead-letter sink')
      parse_table_spec(self.table, 'dead_letter_table')
    if self.kind == 'files' and not self.path:
      raise ValueError('dead_letter_path is required for a files dead-letter sink')


class _CountByErrorTypeFn(beam.DoFn):
  """Counts dead letters by errorType (``dead_letters/<errorType>``) and in total."""
  def __init__(self):
    self._total = Metrics.counter('dead_letters', 'total')
    self._counters = {}

  def process(self, record):
    error_type = record.get('errorType') or 'unknown'
    counter = self._counters.get(error_type)
    if counter is None:
      counter = self._counters[error_type] = Metrics.counter('dead_letters', error_type)
    counter.inc()
    self._total.inc()
    yield record


def _log_unwritable(record):
  # A dead letter the dead-letter table itself rejects has nowhere else to go: say so loudly.
  _LOG.error('dead letter could not be written (errorType=%s, sourceId=%s): %s',
             record.get('errorType'), record.get('sourceId'), record.get('errorMessage'))
  return record


class WriteDeadLetters(beam.PTransform):
  """Writes dead-letter records (see ``transforms.errors``) to BigQuery or JSONL files.

  Input: one PCollection of dead letters (flatten the stages' outputs first, or pass a
  tuple/list of PCollections). Output: the records the sink could not write (BigQuery
  only; each also logged at ERROR and counted as ``dead_letters/unwritable``).

  Example::

      (read.dead_letters, parsed.dead_letters, failed) | WriteDeadLetters(
          DeadLetterSinkConfig(table='p:ds.events_error_records'))
  """

  def __init__(self, config, pipeline_name=None, label=None):
    super().__init__(label)
    if not isinstance(config, DeadLetterSinkConfig):
      raise ValueError(f'config must be a DeadLetterSinkConfig, got {type(config).__name__}')
    self._config = config
    self._pipeline_name = pipeline_name

  def expand(self, dead_letters):
    if isinstance(dead_letters, (tuple, list)):
      dead_letters = dead_letters | 'Flatten' >> beam.Flatten()
    counted = dead_letters | 'CountByType' >> beam.ParDo(_CountByErrorTypeFn())
    config = self._config
    if config.kind == 'files':
      _ = (counted
           | 'ToJson' >> beam.Map(lambda r: json.dumps(r, ensure_ascii=False, sort_keys=True))
           | 'WriteFiles' >> beam.io.WriteToText(config.path, file_name_suffix='.jsonl'))
      return dead_letters.pipeline | 'NothingUnwritable' >> beam.Create([])
    failed = counted | 'WriteTable' >> WriteRowsToBigQuery(
        BigQuerySinkConfig(table=config.table, write_method=config.write_method,
                           temp_location=config.temp_location),
        dead_letter_table_schema(), pipeline_name=self._pipeline_name,
        metric_name='dead_letters')
    return failed | 'LogUnwritable' >> beam.Map(_log_unwritable)
