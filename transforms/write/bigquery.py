"""WriteRowsToBigQuery: Beam's BigQuery sink with its failures turned into dead letters."""

import json
import logging
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.bigquery_tools import RetryStrategy
from apache_beam.metrics import Metrics

from beam_pipelines.transforms import beam_patches
from beam_pipelines.transforms.core.dead_letter import make_dead_letter
from beam_pipelines.transforms.core.lineage import ReportBigQuerySinkFn
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.create_table import CreateTableAtStart
from beam_pipelines.transforms.validate.schema import load_schema
from beam_pipelines.transforms.write.retry_budget import check_retry_budget, register_retry_budget

_LOG = logging.getLogger(__name__)
WRITE_METHODS = ('STREAMING_INSERTS', 'FILE_LOADS', 'STORAGE_WRITE_API')
CREATE_DISPOSITIONS = ('CREATE_IF_NEEDED', 'CREATE_NEVER')
WRITE_DISPOSITIONS = ('WRITE_APPEND', 'WRITE_TRUNCATE', 'WRITE_EMPTY')


@dataclass(frozen=True)
class BigQuerySinkConfig:
  """Where and how rows are written.

  Attributes:
    table: ``PROJECT:DATASET.TABLE`` (or ``DATASET.TABLE`` with ``--project``).
    write_method: STREAMING_INSERTS (rows rejected by BigQuery come back as dead letters),
      FILE_LOADS (batch load jobs; a rejected load fails the run loudly) or
      STORAGE_WRITE_API (Dataflow only: a cross-language transform).
    create_disposition / write_disposition: as in BigQuery.
    temp_location: a folder for FILE_LOADS files (local path or gs://).
    retry_budget_seconds: once the table's BigQuery calls have failed for longer than this
      with no success in between, the next failure fails the bundle loudly
      (``beam_pipelines.transforms.write.retry_budget``); 0 (the default here) leaves Beam's own
      retries alone, which for STREAMING_INSERTS can mean retrying without end.
  """
  table: str
  write_method: str = 'STREAMING_INSERTS'
  create_disposition: str = 'CREATE_IF_NEEDED'
  write_disposition: str = 'WRITE_APPEND'
  temp_location: Optional[str] = None
  retry_budget_seconds: float = 0

  def __post_init__(self):
    parse_table_spec(self.table)
    check_retry_budget(self.retry_budget_seconds)
    if self.write_method not in WRITE_METHODS:
      raise ValueError(f'write_method must be one of {WRITE_METHODS}, got {self.write_method!r}')
    if self.create_disposition not in CREATE_DISPOSITIONS:
      raise ValueError(f'create_disposition must be one of {CREATE_DISPOSITIONS}, '
                       f'got {self.create_disposition!r}')
    if self.write_disposition not in WRITE_DISPOSITIONS:
      raise ValueError(f'write_disposition must be one of {WRITE_DISPOSITIONS}, '
                       f'got {self.write_disposition!r}')


def _failed_row_to_dead_letter(failed, pipeline_name):
  destination, row, errors = failed
  if isinstance(errors, str):
    # Beam's insertAll writer hands back rows it refuses to send (over its 9 MB payload
    # limit) with an error *string*, not BigQuery's list of error dicts.
    reason = ('row_too_large' if 'exceeds the maximum insert payload size' in errors
              else 'rejected')
    errors = [{'reason': reason, 'message': errors}]
  elif isinstance(errors, dict):
    errors = [errors]
  errors = [e if isinstance(e, dict) else {'reason': 'unknown', 'message': str(e)}
            for e in (errors or [])]
  reasons = sorted({e.get('reason') or 'unknown' for e in errors or []}) or ['unknown']
  message = '; '.join(
      f"{e.get('location') or '<row>'}: {e.get('message') or e.get('reason')}"
      for e in (errors or [])) or 'BigQuery rejected the row'
  payload = json.dumps(row, ensure_ascii=False, default=str)
  return make_dead_letter(
      payload, stage='sink', error_type=f'bigquery_insert:{reasons[0]}',
      message=f'{destination}: {message}', pipeline=pipeline_name)


class _CountFn(beam.DoFn):
  """Counts elements. Fused with Beam's BigQuery write steps, its ``setup`` prepares the
  worker process that runs them: the Beam patches the pipeline was built with, and the
  sink's retry budget (worker processes import Beam afresh)."""

  def __init__(self, namespace, name, config=None):
    self._counter = Metrics.counter(namespace, name)
    self._config = config
    self._patches = beam_patches.enabled()

  def setup(self):
    beam_patches.ensure(self._patches)
    if self._config is not None:
      register_retry_budget(self._config.table, self._config.retry_budget_seconds)

  def process(self, element, *unused_side_inputs):  # side input: the table exists
    self._counter.inc()
    yield element


class WriteRowsToBigQuery(beam.PTransform):
  """Writes rows to a BigQuery table and returns the rows it could not write as dead letters.

  With ``create_disposition`` CREATE_IF_NEEDED the table is created when the run starts, with
  the full schema, even if no row ever comes (``beam_pipelines.transforms.write.create_table``).

  Outputs: a PCollection of dead-letter records (stage ``sink``, errorType
  ``bigquery_insert:<reason>``). With STREAMING_INSERTS, permanently rejected rows are
  returned (transient errors are retried by Beam); with FILE_LOADS a failed load job fails
  the run loudly, because BigQuery does not say which row broke it. Counters:
  ``sink/<name>_attempted`` and ``sink/<name>_failed``.

  With the Beam patch ``bigquery_emulator`` on, honours ``BIGQUERY_EMULATOR_HOST`` (every
  BigQuery call goes to the emulator). With ``config.retry_budget_seconds`` > 0 and the patch
  ``bigquery_retry_budget`` on, BigQuery failing for longer than that (no success in
  between) fails the run with ``RetryBudgetExceeded`` naming the table and the last error
  (see ``beam_pipelines.transforms.beam_patches``).

  Example::

      failed = rows | WriteRowsToBigQuery(BigQuerySinkConfig('p:ds.events'), schema)
  """

  def __init__(self, config, schema, pipeline_name=None, metric_name='rows', label=None):
    super().__init__(label)
    if not isinstance(config, BigQuerySinkConfig):
      raise ValueError(f'config must be a BigQuerySinkConfig, got {type(config).__name__}')
    self._config = config
    self._schema = load_schema(schema)
    self._pipeline_name = pipeline_name
    self._metric_name = metric_name
    register_retry_budget(config.table, config.retry_budget_seconds, fresh=True)

  def expand(self, rows):
    config = self._config
    table_created = ()
    if config.create_disposition == 'CREATE_IF_NEEDED':
      # Created when the run starts, with the full schema; rows wait for it (a side input).
      from apache_beam.options.pipeline_options import GoogleCloudOptions
      options = rows.pipeline.options
      project = options.view_as(GoogleCloudOptions).project if options else None
      created = rows.pipeline | 'CreateTable' >> CreateTableAtStart(
          config.table, self._schema.to_json(), project, config.retry_budget_seconds)
      table_created = (beam.pvalue.AsList(created),)
    extra = {}
    if config.write_method == 'STREAMING_INSERTS':
      # Rows BigQuery rejects for good come back instead of being retried forever.
      extra['insert_retry_strategy'] = RetryStrategy.RETRY_ON_TRANSIENT_ERROR
    if config.temp_location:
      extra['custom_gcs_temp_location'] = config.temp_location
    result = (
        rows
        | 'CountAttempted' >> beam.ParDo(
            _CountFn('sink', f'{self._metric_name}_attempted', config), *table_created)
        | 'ReportLineage' >> beam.ParDo(ReportBigQuerySinkFn(config.table))  # Beam lineage
        | 'Write' >> WriteToBigQuery(
            config.table,
            schema=self._schema.to_json(),
            method=config.write_method,
            create_disposition=getattr(BigQueryDisposition, config.create_disposition),
            write_disposition=getattr(BigQueryDisposition, config.write_disposition),
            # Validating at construction would call BigQuery while the graph is built.
            validate=False,
            **extra))
    if config.write_method != 'STREAMING_INSERTS':
      return rows.pipeline | 'NoFailedRows' >> beam.Create([])
    pipeline_name = self._pipeline_name
    return (
        result.failed_rows_with_errors
        # Fused with Beam's BigQueryWriteFn: its setup prepares the process that runs it.
        | 'CountFailed' >> beam.ParDo(_CountFn('sink', f'{self._metric_name}_failed', config))
        | 'FailedToDeadLetters' >> beam.Map(_failed_row_to_dead_letter, pipeline_name))
