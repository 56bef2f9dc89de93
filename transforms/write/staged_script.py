"""Stage rows into a table of their own, then apply one SQL script to them in one transaction.

The commit step of the pipelines that must change BigQuery tables exactly once (CDC merges;
reusable wherever a batch of rows must land together with other statements, e.g. rows plus
a manifest entry):

1. the rows are written as newline-delimited JSON to ``<staging_location>/<name>.jsonl``
   (a local folder or ``gs://``) and loaded by a load job into a fresh staging table
   (``WRITE_TRUNCATE``; BigQuery load jobs are atomic and free);
2. the script runs as one query job; ``{staging}`` in it names the staging table and
   ``{run_id}`` is a fresh token per attempt (to name temporary tables). Wrap its
   statements in ``BEGIN TRANSACTION; ... COMMIT TRANSACTION;`` to apply them all or none;
   the result rows of its last statement are returned;
3. the staging table and file are removed (the table also expires after a day).

``run_stages`` does steps 2-3 for files already written (several staging tables, many files
each: how ``beam_pipelines.transforms.loads`` commits a run's rows, dead letters and manifest
entries in one transaction).

Failures: a transient BigQuery error (HTTP 429/5xx, a connection error, a transaction
aborted by a concurrent update) redoes steps 1-2 with exponential backoff, for as long as
the retry budget allows (``retry_budget_seconds``: 0 retries without limit; else the first
failure after that many seconds without a success raises ``RetryBudgetExceeded``). Any other
error (a bad script, a schema mismatch) raises at once. Because a step may run more than once
(after a transient error, or when the runner retries a bundle), **the script must be
idempotent**: running it twice on the same staging rows must leave the tables as running it
once (e.g. insert only rows whose id is not there yet).

Measured against the local BigQuery emulator (bqemulator 1.4, DuckDB): a transaction whose
statement fails is rolled back entirely (the emulator copies each table a transaction changes
and restores the copies on failure), and concurrent scripts are serialised: the emulator runs
each job to its end on one event-loop thread, so a reader never sees a job half done, with or
without a transaction, but sees what an earlier job of a multi-job sequence left
(tests/integration/test_staged_script.py; a reader polling through a replace run,
tests/e2e/test_exactly_once_loads.py).
"""

import datetime
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Tuple

import orjson

from beam_pipelines.transforms.core.bigquery_client import bigquery_client
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.retry_budget import RetryBudget, check_retry_budget

_LOG = logging.getLogger(__name__)
STAGING_EXPIRY = datetime.timedelta(days=1)
CALL_RETRY_SECONDS = 30.0
MAX_LOAD_URIS = 10000  # source URIs BigQuery takes in one load job
_TRANSIENT_TEXT = ('concurrent update', 'could not serialize', 'backenderror',
                   'ratelimitexceeded', 'internalerror', 'try again')


def is_transient(error):
  """True for errors worth retrying: HTTP 429/5xx, connection problems, and transactions
  aborted by a concurrent update."""
  from google.api_core import exceptions
  if isinstance(error, (exceptions.TooManyRequests, exceptions.ServerError,
                        exceptions.RetryError, ConnectionError, TimeoutError)):
    return True
  try:
    import requests
    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
      return True
  except ImportError:  # pragma: no cover
    pass
  text = str(error).lower()
  return any(t in text for t in _TRANSIENT_TEXT)


def json_line(row):
  try:
    return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
  except TypeError:  # a value orjson does not know (Decimal...): the slow, general way
    return (json.dumps(row, ensure_ascii=False, separators=(',', ':'), default=str) +
            '\n').encode('utf-8')


def write_json_lines(path, rows):
  """Writes ``rows`` (dicts in BigQuery JSON form) to ``path`` (local, its folder made, or
  gs://) as newline-delimited JSON, what a load job reads."""
  from apache_beam.io.filesystems import FileSystems
  data = b''.join(json_line(r) for r in rows)
  if '://' not in path:
    import os
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with FileSystems.create(path) as f:
    f.write(data)


def table_ref(spec, default_project):
  """``[PROJECT:]DATASET.TABLE`` -> ``project.dataset.table`` (the client's project when the
  spec has none)."""
  project, dataset, table = parse_table_spec(spec)
  return f'{project or default_project}.{dataset}.{table}'


def quoted(ref):
  """A table reference quoted for GoogleSQL: ```project.dataset.table```."""
  return '`' + ref.replace('`', '') + '`'


def schema_fields(schema):
  """A TableSchema (``beam_pipelines.transforms.validate.schema``) -> SchemaField list."""
  from google.cloud import bigquery
  return [bigquery.SchemaField.from_api_repr(f.to_json()) for f in schema.fields]


def ensure_table(client, ref, schema, clustering=None, layout=None):
  """Creates ``ref`` with ``schema`` (clustered by ``clustering``, or laid out by ``layout``,
  a ``TableLayout``) unless it exists; returns the table. An existing table missing a column
  of ``schema`` raises ValueError naming them (a script would fail on it anyway, less
  clearly)."""
  from google.cloud import bigquery
  table = bigquery.Table(ref, schema=schema_fields(schema))
  if clustering:
    table.clustering_fields = list(clustering)[:4]
  if layout is not None:
    layout.apply_to(table)
  table = client.create_table(table, exists_ok=True)
  have = {f.name.lower() for f in table.schema}
  missing = [f.name for f in schema.fields if f.name.lower() not in have]
  if missing:
    raise ValueError(f'table {ref} exists without the column(s) {missing}; add them or use '
                     'another table')
  return table


class Stage(NamedTuple):
  """Files to load into a staging table before a script runs: ``ref`` (``project.dataset.
  table``), its ``schema`` (a TableSchema) and the JSONL files ``uris``."""
  ref: str
  schema: Any
  uris: Tuple[str, ...]


@dataclass(frozen=True)
class StagedScript:
  """Stages rows and applies a script to them (see the module docstring).

  Attributes:
    staging_location: a folder (local or ``gs://``) for the staging files.
    retry_budget_seconds: 0 retries transient failures without limit.
    project: the project of table specs without one (None: the client's default).
    budget_name: the name failures are reported under (a table).
  """
  staging_location: str
  retry_budget_seconds: float = 0
  project: Optional[str] = None
  budget_name: str = 'staged script'

  def __post_init__(self):
    if not self.staging_location:
      raise ValueError('staging_location is required')
    check_retry_budget(self.retry_budget_seconds)

  def client(self):
    return bigquery_client(self.project)

  def call_retry(self):
    """The client library's retry for one call, bounded so that failures come back to this
    loop (and its budget) within ``CALL_RETRY_SECONDS`` (or the budget, when shorter)."""
    from google.cloud import bigquery
    seconds = CALL_RETRY_SECONDS
    if self.retry_budget_seconds:
      seconds = min(seconds, self.retry_budget_seconds)
    return bigquery.DEFAULT_RETRY.with_timeout(seconds)

  def run(self, client, rows, schema, staging_ref, script, sleep=time.sleep):
    """Stages ``rows`` (dicts in BigQuery JSON form) as ``staging_ref`` with ``schema`` and
    runs ``script`` (``{staging}`` replaced by the quoted staging table, ``{run_id}`` by a
    fresh token). Returns the result rows of the script's last statement as dicts."""
    path = self._path(staging_ref)
    try:
      write_json_lines(path, rows)
      return self.run_stages(client, [Stage(staging_ref, schema, (path,))],
                             script.replace('{staging}', quoted(staging_ref)), sleep)
    finally:
      self._delete_file(path)

  def run_stages(self, client, stages, script, sleep=time.sleep):
    """Loads every ``Stage`` (its files into its staging table) and runs ``script``
    (``{run_id}`` replaced by a fresh token per attempt), retrying transient failures of
    both within the budget; drops the staging tables in the end. Returns the result rows of
    the script's last statement as dicts."""
    retry = self.call_retry()

    def attempt():
      for stage in stages:
        self._load(client, stage.uris, stage.schema, stage.ref, retry)
      job = client.query(script.replace('{run_id}', uuid.uuid4().hex[:12]), retry=retry,
                         job_retry=None)
      return [dict(r.items()) for r in job.result(retry=retry)]

    try:
      return self.with_retries(attempt, 'stage and apply', sleep)
    finally:
      for stage in stages:  # after a failed drop (BigQuery away), the rest expire instead
        if not self._drop(client, stage.ref):
          break

  def query(self, client, sql, sleep=time.sleep):
    """Runs one query with the same retries within the budget; returns its rows as dicts."""
    retry = self.call_retry()
    return self.with_retries(
        lambda: [dict(r.items()) for r in client.query(sql, retry=retry, job_retry=None)
                 .result(retry=retry)], 'query', sleep)

  def with_retries(self, attempt, what, sleep=time.sleep):
    """``attempt()``, redone with exponential backoff after a transient error for as long as
    the retry budget allows; any other error is raised at once."""
    budget = RetryBudget(self.budget_name, self.retry_budget_seconds)
    delay = 1.0
    while True:
      try:
        result = attempt()
        budget.succeeded()
        return result
      except Exception as e:  # pylint: disable=broad-except
        if not is_transient(e):
          raise
        budget.failed(e, what)  # raises RetryBudgetExceeded when spent
        _LOG.warning('%s for %s failed (%s); retrying in %.0f s', what, self.budget_name,
                     type(e).__name__, delay)
        sleep(delay)
        delay = min(delay * 2, 60.0)

  def _path(self, staging_ref):
    name = staging_ref.rsplit('.', 1)[-1]
    return self.staging_location.rstrip('/') + '/' + name + '.jsonl'

  @staticmethod
  def _load(client, uris, schema, staging_ref, retry):
    """Loads ``uris`` (JSONL files, local or gs://) into ``staging_ref``, replacing it: one
    load job per ``MAX_LOAD_URIS`` files (BigQuery's limit per job)."""
    from google.cloud import bigquery
    uris = list(uris)
    for i in range(0, max(len(uris), 1), MAX_LOAD_URIS):
      config = bigquery.LoadJobConfig(
          schema=schema_fields(schema), source_format='NEWLINE_DELIMITED_JSON',
          write_disposition='WRITE_TRUNCATE' if i == 0 else 'WRITE_APPEND',
          create_disposition='CREATE_IF_NEEDED')
      client.load_table_from_uri(uris[i:i + MAX_LOAD_URIS], staging_ref, job_config=config,
                                 retry=retry).result(retry=retry)
    try:
      table = client.get_table(staging_ref, retry=retry)
      table.expires = datetime.datetime.now(datetime.timezone.utc) + STAGING_EXPIRY
      client.update_table(table, ['expires'], retry=retry)
    except Exception as e:  # pylint: disable=broad-except
      _LOG.info('could not set an expiry on %s: %s', staging_ref, e)

  @staticmethod
  def _drop(client, staging_ref):
    """Drops a staging table; False when it could not (it expires after a day)."""
    try:
      from google.cloud import bigquery
      client.delete_table(staging_ref, not_found_ok=True,
                          retry=bigquery.DEFAULT_RETRY.with_timeout(10))
      return True
    except Exception as e:  # pylint: disable=broad-except
      _LOG.warning('could not drop the staging table %s (it expires in a day): %s',
                   staging_ref, e)
      return False

  @staticmethod
  def _delete_file(path):
    from apache_beam.io.filesystems import FileSystems
    try:
      if FileSystems.exists(path):
        FileSystems.delete([path])
    except Exception as e:  # pylint: disable=broad-except
      _LOG.warning('could not delete the staging file %s: %s', path, e)


def staging_table_ref(target_ref, label='staging'):
  """A fresh staging table name beside ``target_ref``: ``<table>_<label>_<random>``."""
  return f'{target_ref}_{label}_{uuid.uuid4().hex[:16]}'
