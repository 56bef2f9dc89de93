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
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, make_dead_letter,
                                                        pipeline_name_of)
from beam_pipelines.transforms.core.elements import (RowDict, UnsupportedElement, payload_of,
                                                     row_dict, source_id_of,
                                                     unsupported_element_dead_letter,
                                                     without_source_id)
from beam_pipelines.transforms.core.lineage import ReportBigQuerySinkFn
from beam_pipelines.transforms.core.outputs import schema_of, typed_dead_letters
from beam_pipelines.transforms.core.schema import load_schema, schema_first
from beam_pipelines.transforms.core.table_layout import TableLayout
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.create_table import CreateTableAtStart
from beam_pipelines.transforms.write.retry_budget import check_retry_budget, register_retry_budget
from beam_pipelines.transforms.write.row_shape import unknown_fields_checker

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
    layout: partitioning, clustering and partition expiration of the table when it is
      created (a ``TableLayout``; None: neither).
  """
  table: str
  write_method: str = 'STREAMING_INSERTS'
  create_disposition: str = 'CREATE_IF_NEEDED'
  write_disposition: str = 'WRITE_APPEND'
  temp_location: Optional[str] = None
  retry_budget_seconds: float = 0
  layout: Optional[TableLayout] = None

  def __post_init__(self):
    parse_table_spec(self.table)
    check_retry_budget(self.retry_budget_seconds)
    if self.layout is not None and not isinstance(self.layout, TableLayout):
      raise ValueError(f'layout must be a TableLayout, got {type(self.layout).__name__}')
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
  source_id = source_id_of(row)
  row = without_source_id(row)
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
      message=f'{destination}: {message}', source_id=source_id, pipeline=pipeline_name)


def pipeline_project(pipeline):
  """The pipeline's ``--project`` (None when unset): tables without a project use it."""
  from apache_beam.options.pipeline_options import GoogleCloudOptions
  options = pipeline.options
  return options.view_as(GoogleCloudOptions).project if options else None


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


class _PrepareRowsFn(_CountFn):
  """Rows as dicts, counted (``sink/<name>_attempted``); a row with fields the table lacks,
  or an element that is not a row, becomes a dead letter instead. ``keep_source_ids``: the
  rows keep their source id key (STREAMING_INSERTS tells BigQuery to ignore it, so a row
  BigQuery rejects comes back with it); otherwise it is dropped here."""

  def __init__(self, name, config, schema, keep_source_ids, pipeline_name):
    super().__init__('sink', f'{name}_attempted', config)
    self._schema = schema
    self._keep = keep_source_ids
    self._pipeline_name = pipeline_name
    self._failed = Metrics.counter('sink', f'{name}_failed')

  def setup(self):
    super().setup()
    self._unknown = (unknown_fields_checker(self._schema) if self._schema is not None
                     else lambda row: ())

  def process(self, element, *unused_side_inputs):  # side input: the table exists
    self._counter.inc()
    try:
      row = row_dict(element)
    except UnsupportedElement:
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
          element, 'sink', 'WriteRowsToBigQuery', 'rows (dicts or beam.Rows)',
          self._pipeline_name))
      return
    unknown = self._unknown(row)
    if unknown:
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          payload_of(row), stage='sink', error_type='unknown_field',
          message=f'{self._config.table}: the row has {len(unknown)} field(s) the table '
                  f'schema lacks: {", ".join(unknown[:10])}',
          source_id=source_id_of(row), pipeline=self._pipeline_name))
      return
    yield row if self._keep else without_source_id(row)


class WriteRowsToBigQuery(beam.PTransform):
  """Writes rows to a BigQuery table and returns the rows it could not write as dead letters.

  Args:
    schema: the table schema (a path, the JSON or a ``TableSchema``); None (or left out):
      the schema the input rows were made with, when a suite transform made them (e.g. the
      masked and enriched schema after ``MaskPII`` and ``EnrichWithSideInput``).
    config: a ``BigQuerySinkConfig``.
    pipeline_name: recorded in each dead letter (default: the pipeline's options).
    metric_name: the counters' name prefix (``sink/<name>_attempted``, ``_failed``).
    schema_evolves: the table gains columns while the pipeline runs (schema drift
      ``evolve``): rows are then sent as they are, without the check for fields the schema
      lacks (BigQuery itself rejects fields the table lacks) and without their source id.
    commit: a ``beam_pipelines.transforms.loads.LoadCommit``: the rows are staged for it
      (written as files, committed with the run's other tables and its manifest entries by
      ``CommitLoads``) instead of written by Beam's sink; ``write_method`` then does not
      matter, and a row BigQuery rejects fails the commit (nothing is committed) instead of
      coming back as a dead letter.

  With ``create_disposition`` CREATE_IF_NEEDED the table is created when the run starts, with
  the full schema, even if no row ever comes (``beam_pipelines.transforms.write.create_table``).

  Input: rows (dicts or ``beam.Row``s). Outputs: a PCollection of dead-letter records (stage
  ``sink``, errorType ``bigquery_insert:<reason>``; ``unknown_field`` for a row with fields
  the table lacks, checked before it is sent; ``unsupported_element:<kind>`` for an element
  that is not a row), each with the row's source id. With STREAMING_INSERTS, permanently rejected rows are
  returned (transient errors are retried by Beam); with FILE_LOADS a failed load job fails
  the run loudly, because BigQuery does not say which row broke it. Counters:
  ``sink/<name>_attempted`` and ``sink/<name>_failed``.

  With the Beam patch ``bigquery_emulator`` on, honours ``BIGQUERY_EMULATOR_HOST`` (every
  BigQuery call goes to the emulator). With ``config.retry_budget_seconds`` > 0 and the patch
  ``bigquery_retry_budget`` on, BigQuery failing for longer than that (no success in
  between) fails the run with ``RetryBudgetExceeded`` naming the table and the last error
  (see ``beam_pipelines.transforms.beam_patches``).

  Example::

      failed = rows | WriteRowsToBigQuery(schema, BigQuerySinkConfig('p:ds.events'))
  """

  def __init__(self, schema=None, config=None, *, pipeline_name=None, metric_name='rows',
               schema_evolves=False, commit=None, label=None):
    super().__init__(label)
    schema, config = schema_first('WriteRowsToBigQuery', schema, config, BigQuerySinkConfig)
    if not isinstance(config, BigQuerySinkConfig):
      raise ValueError(f'config must be a BigQuerySinkConfig, got {type(config).__name__}')
    if commit is not None and not callable(getattr(commit, 'stage', None)):
      raise ValueError(f'commit must be a LoadCommit, got {type(commit).__name__}')
    if commit is not None and schema_evolves:
      raise ValueError('schema_evolves needs rows written as they come (STREAMING_INSERTS); '
                       'a commit stages them with a fixed schema')
    self._commit = commit
    self._config = config
    self._schema = None if schema is None else load_schema(schema)
    self._pipeline_name = pipeline_name
    self._metric_name = metric_name
    self._schema_evolves = bool(schema_evolves)
    register_retry_budget(config.table, config.retry_budget_seconds, fresh=True)

  def expand(self, rows):
    config = self._config
    schema = self._schema or schema_of(rows)
    if schema is None:
      raise ValueError('WriteRowsToBigQuery: schema is required (the input rows were not made '
                       'by a transform of the suite that knows their schema)')
    pipeline_name = pipeline_name_of(rows.pipeline, self._pipeline_name)
    streaming_inserts = config.write_method == 'STREAMING_INSERTS'
    # A commit counts and checks the rows per input file: it needs their source ids.
    keep_source_ids = (streaming_inserts and not self._schema_evolves) or bool(self._commit)
    layout = config.layout.for_schema(schema) if config.layout is not None else None
    table_created = ()
    if config.create_disposition == 'CREATE_IF_NEEDED':
      # Created when the run starts, with the full schema; rows wait for it (a side input).
      created = rows.pipeline | 'CreateTable' >> CreateTableAtStart(
          config.table, schema.to_json(), pipeline_project(rows.pipeline),
          config.retry_budget_seconds, layout=layout)
      table_created = (beam.pvalue.AsList(created),)
    extra = {}
    if streaming_inserts:
      # Rows BigQuery rejects for good come back instead of being retried forever.
      extra['insert_retry_strategy'] = RetryStrategy.RETRY_ON_TRANSIENT_ERROR
      if layout is not None and layout.to_api():
        # Used only if Beam creates the table itself (our CreateTable step deferred).
        extra['additional_bq_parameters'] = layout.to_api()
    if keep_source_ids:
      # The rows' source id key: the only field the table lacks (checked in PrepareRows).
      extra['ignore_unknown_columns'] = True
    if config.temp_location:
      extra['custom_gcs_temp_location'] = config.temp_location
    prepared = rows | 'PrepareRows' >> beam.ParDo(_PrepareRowsFn(
        self._metric_name, config, None if self._schema_evolves else schema, keep_source_ids,
        pipeline_name), *table_created).with_output_types(
            RowDict).with_outputs(DEAD_LETTER_TAG, main=ROWS_TAG)
    if self._commit is not None:
      reported = prepared[ROWS_TAG] | 'ReportLineage' >> beam.ParDo(
          ReportBigQuerySinkFn(config.table))
      self._commit.stage(reported, self._metric_name, config.table, schema, layout)
      return typed_dead_letters(prepared[DEAD_LETTER_TAG])
    result = (
        prepared[ROWS_TAG]
        | 'ReportLineage' >> beam.ParDo(ReportBigQuerySinkFn(config.table))  # Beam lineage
        | 'Write' >> WriteToBigQuery(
            config.table,
            schema=schema.to_json(),
            method=config.write_method,
            create_disposition=getattr(BigQueryDisposition, config.create_disposition),
            write_disposition=getattr(BigQueryDisposition, config.write_disposition),
            # Validating at construction would call BigQuery while the graph is built.
            validate=False,
            **extra))
    if not streaming_inserts:
      return typed_dead_letters(prepared[DEAD_LETTER_TAG])
    failed = (
        result.failed_rows_with_errors
        # Fused with Beam's BigQueryWriteFn: its setup prepares the process that runs it.
        | 'CountFailed' >> beam.ParDo(_CountFn('sink', f'{self._metric_name}_failed', config))
        | 'FailedToDeadLetters' >> beam.Map(_failed_row_to_dead_letter, pipeline_name))
    return typed_dead_letters(
        (prepared[DEAD_LETTER_TAG], failed) | 'DeadLetters' >> beam.Flatten())
