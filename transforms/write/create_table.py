"""Creating a sink's BigQuery table when the pipeline starts (``CREATE_IF_NEEDED``).

``WriteRowsToBigQuery`` adds a ``CreateTable`` step (an impulse and ``CreateTableFn``) and
holds its rows until that step has run, so every table a run writes — rows, dead letters,
aggregates, quality scores — exists with its schema from the start: a dashboard over
``<table>_error_records`` works before the first failure, as with Google's templates. The
table is created with the schema exactly as loaded (RANGE element types, NUMERIC precision
and scale, maxLength), which Beam's own CREATE_IF_NEEDED drops (Beam 2.77's
``parse_table_schema_from_json`` keeps name, type, mode, description and sub-fields only).

The table gets its ``TableLayout`` (partitioning, clustering, partition expiration;
``beam_pipelines.transforms.core.table_layout``) when it is created. An existing table is
left as it is, layout included (a warning names what differs). The step runs on a worker like
any other, so it works on every runner (the DirectRunners and Dataflow alike) and does
nothing on a dry run (steps are not executed). Errors: BigQuery refusing the table (a missing dataset, a bad schema, no
permission) fails the run at once with a message naming the table; BigQuery unreachable is
retried with backoff for the sink's retry budget (``RetryBudgetExceeded`` after it, as the
sink itself would), or, with no budget, for ``DEFAULT_DEADLINE_SECONDS``, after which the step
logs an error, counts ``sink/table_create_deferred`` and lets the rows through: Beam's sink
then creates the table (with its reduced schema) or retries as it always has.
"""

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.retry_budget import RetryBudget

_LOG = logging.getLogger(__name__)
DEFAULT_DEADLINE_SECONDS = 60.0
_MAX_BACKOFF_SECONDS = 5.0


def table_id(table_spec, project=None):
  """``PROJECT.DATASET.TABLE`` for a table spec; ``DATASET.TABLE`` when no project is known."""
  table_project, dataset, table = parse_table_spec(table_spec)
  project = table_project or project
  return f'{project}.{dataset}.{table}' if project else f'{dataset}.{table}'


def _is_transient(error):
  """BigQuery unreachable or overloaded (retry), as opposed to refusing the request."""
  import requests
  from google.api_core import exceptions
  from google.api_core.retry import if_transient_error
  return if_transient_error(error) or isinstance(error, (
      OSError, requests.exceptions.ConnectionError, requests.exceptions.Timeout,
      exceptions.ServerError))


def create_table_if_needed(table_spec, schema_json, project=None, retry_budget_seconds=0,
                           clock=time.monotonic, sleep=time.sleep, layout=None):
  """Creates the table with ``schema_json`` (``{'fields': [...]}``) and ``layout`` (a
  ``TableLayout``, or None) unless it exists.

  Returns True when the table exists afterwards (created now or before), False when BigQuery
  stayed unreachable past the deadline (no budget). Raises RuntimeError naming the table when
  BigQuery refuses it, RetryBudgetExceeded past a retry budget.
  """
  from google.api_core.exceptions import NotFound
  from google.cloud import bigquery

  from beam_pipelines.transforms.core.bigquery_client import bigquery_client
  budget = RetryBudget(table_spec, retry_budget_seconds, clock=clock)
  deadline = clock() + (retry_budget_seconds * 2 + 1 if retry_budget_seconds
                        else DEFAULT_DEADLINE_SECONDS)
  backoff = 0.5
  while True:
    try:
      client = bigquery_client(project)
      try:
        ref = table_id(table_spec, project or client.project)
        try:
          existing = client.get_table(ref, retry=None, timeout=30)
          _warn_on_other_layout(ref, existing, layout)
          return True
        except NotFound:
          fields = [bigquery.SchemaField.from_api_repr(f) for f in schema_json['fields']]
          table = bigquery.Table(ref, schema=fields)
          if layout is not None:
            layout.apply_to(table)
          client.create_table(table, exists_ok=True, retry=None, timeout=30)
          _LOG.info('created BigQuery table %s', ref)
          return True
      finally:
        client.close()
    except Exception as e:  # pylint: disable=broad-except
      if not _is_transient(e):
        raise RuntimeError(f'cannot create BigQuery table {table_spec}: '
                           f'{type(e).__name__}: {e}') from None
      budget.failed(e, 'create table')  # raises RetryBudgetExceeded past the budget
      if clock() >= deadline:
        _LOG.error('could not reach BigQuery to create table %s for %.0f s (%s: %s); the '
                   "sink's own CREATE_IF_NEEDED will create it", table_spec,
                   DEFAULT_DEADLINE_SECONDS, type(e).__name__, e)
        return False
      sleep(backoff)
      backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)


def _warn_on_other_layout(ref, table, layout):
  differences = layout.differences(table) if layout is not None else ()
  if differences:
    _LOG.warning('BigQuery table %s exists with another layout than configured (%s); it is '
                 'left as it is (recreate it to change its layout)', ref,
                 ', '.join(differences))


class CreateTableFn(beam.DoFn):
  """An impulse in, the table spec out once the table exists (see the module docstring)."""

  def __init__(self, table_spec, schema_json, project=None, retry_budget_seconds=0,
               layout=None):
    self._args = (table_spec, schema_json, project, retry_budget_seconds)
    self._layout = layout
    self._deferred = Metrics.counter('sink', 'table_create_deferred')

  def process(self, unused_impulse):
    if not create_table_if_needed(*self._args, layout=self._layout):
      self._deferred.inc()
    yield self._args[0]


class CreateTableAtStart(beam.PTransform):
  """PBegin -> a one-element PCollection (the table spec), produced once the table exists.
  Use it as a side input of the step that feeds the sink, so rows wait for the table."""

  def __init__(self, table_spec, schema_json, project=None, retry_budget_seconds=0,
               label=None, layout=None):
    super().__init__(label)
    parse_table_spec(table_spec)
    self._fn = CreateTableFn(table_spec, schema_json, project, retry_budget_seconds, layout)

  def expand(self, pbegin):
    return (pbegin
            | 'Impulse' >> beam.Impulse()
            | 'Create' >> beam.ParDo(self._fn))
