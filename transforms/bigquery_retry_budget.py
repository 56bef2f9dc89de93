"""A retry budget for BigQuery calls: once a table's calls have failed for too long, fail loudly.

Beam's BigQuery IO retries in nested loops: its ``with_exponential_backoff`` decorators
(``get_table`` inside ``get_or_create_table``, load jobs, insertAll), apitools' connection
retries inside every apitools call, google-cloud-bigquery's ``DEFAULT_RETRY`` (600 s deadline)
around every insertAll, and BigQueryWriteFn's flush loop (up to 10000 attempts). With the
endpoint gone for good, a STREAMING_INSERTS run was still retrying after 600 s.

``apply_retry_budget()`` makes every ``BigQueryWrapper`` Beam creates record each HTTP attempt
of its two clients (apitools' ``http.request``, google-cloud-bigquery's
``Connection.api_request``) against the budget of the table the attempt is for (from its URL,
the table reference in its JSON body, or else the table the same client called last). An
answer below HTTP 400 ends the table's failure streak; an exception or an error status starts
or extends it. The first failed attempt after the streak has lasted longer than the budget
raises ``RetryBudgetExceeded``, a Beam ``PermanentException``: Beam's retry filters do not
retry it, apitools re-raises exception types it does not know, google-cloud-bigquery's retry
predicate does not match it, so it goes through every loop and fails the bundle, naming the
table, the budget and the last underlying error.

Budgets are registered per table (``register_retry_budget``) by our sinks, at construction and
again in DoFn.setup, because worker processes import Beam afresh. ``0`` means no budget (Beam's
retries alone). Calls that name no table and come from a client that has named none (e.g. a
fresh client polling ``jobs.get``) count against the largest budget registered in the process,
or none if any registered table is unlimited: a call is never cut shorter than a sink asked.
"""

import functools
import math
import re
import threading
import time
from urllib.parse import unquote, urlsplit

from apache_beam.utils.retry import PermanentException

_LOCK = threading.Lock()
_BUDGETS = {}  # (dataset, table) -> RetryBudget
_unnamed = None  # the RetryBudget for calls no table can be found for
_MARK = '_retry_budget_watched'
_PATH_TABLE = re.compile(r'/datasets/([^/?#]+)/tables/([^/?#]+)')
_BODY_REF = re.compile(r'"(?:destinationTable|tableReference)"\s*:\s*\{([^{}]*)\}')
_BODY_SCAN = 65536  # the JSON part of a request comes first; never scan a large upload


class RetryBudgetExceeded(PermanentException):
  """BigQuery calls for a table have failed for longer than its retry budget."""


def check_retry_budget(seconds, name='retry_budget_seconds'):
  """Returns ``seconds`` as a float; ValueError unless it is 0 or a finite positive number."""
  if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
      math.isfinite(seconds) and seconds >= 0):
    raise ValueError(f'{name} must be 0 (retry without limit) or a positive number of '
                     f'seconds, got {seconds!r}')
  return float(seconds)


class RetryBudget:
  """The failure streak of one table's BigQuery calls, held against a budget in seconds.

  ``succeeded()`` ends the streak; ``failed(error)`` starts or extends it and raises
  RetryBudgetExceeded once the streak is longer than ``seconds`` (0: never).
  """

  def __init__(self, table, seconds, clock=time.monotonic):
    self.table = table
    self.seconds = check_retry_budget(seconds)
    self._clock = clock
    self._lock = threading.Lock()
    self._since = None

  def succeeded(self):
    with self._lock:
      self._since = None

  def failed(self, error, call=''):
    now = self._clock()
    with self._lock:
      if self._since is None:
        self._since = now
      streak = now - self._since
    if self.seconds and streak > self.seconds:
      last = f'{type(error).__name__}: {error}' if isinstance(error, BaseException) else error
      raise RetryBudgetExceeded(
          f'BigQuery calls for {self.table} have failed for {streak:.1f} s without a '
          f'success, over the retry budget of {self.seconds:g} s (retry_budget_seconds, '
          f'--bigquery_retry_budget_seconds; 0 retries without limit); last error: {last}'
          + (f' [{call}]' if call else '')) from (
              error if isinstance(error, BaseException) else None)


def _key(dataset, table):
  # A partition decorator (events$20240101) writes the same table.
  return unquote(dataset), unquote(table).split('$')[0]


def register_retry_budget(table, seconds, fresh=False):
  """Sets the retry budget of ``table`` ([PROJECT:]DATASET.TABLE); the latest call wins.

  Registering the same budget again keeps the table's current streak (DoFn.setup runs once per
  DoFn instance), unless ``fresh``: a sink built for a new pipeline must not inherit the streak
  of an earlier run in the same process (tests, notebooks), which would fail it at once.
  """
  dataset, name = table.rsplit(':', 1)[-1].split('.')[-2:]
  key = _key(dataset, name)
  seconds = check_retry_budget(seconds)
  with _LOCK:
    current = _BUDGETS.get(key)
    if fresh or current is None or current.seconds != seconds or current.table != table:
      _BUDGETS[key] = RetryBudget(table, seconds)


def table_of(url, body=None):
  """The (dataset, table) a BigQuery request is for, or None when it names no table."""
  match = _PATH_TABLE.search(urlsplit(url or '').path)
  if match:
    return _key(match.group(1), match.group(2))
  if isinstance(body, bytes):
    body = body[:_BODY_SCAN].decode('utf-8', 'replace')
  if isinstance(body, str):
    ref = _BODY_REF.search(body[:_BODY_SCAN])
    if ref:
      fields = dict(re.findall(r'"(datasetId|tableId)"\s*:\s*"([^"]*)"', ref.group(1)))
      if 'datasetId' in fields and 'tableId' in fields:
        return _key(fields['datasetId'], fields['tableId'])
  return None


def _budget_for(key):
  global _unnamed
  with _LOCK:
    if key is not None:
      return _BUDGETS.get(key)
    budgets = list(_BUDGETS.values())
    if not budgets or any(b.seconds == 0 for b in budgets):
      return None
    seconds = max(b.seconds for b in budgets)
    if _unnamed is None or _unnamed.seconds != seconds:
      tables = ', '.join(sorted(b.table for b in budgets))
      _unnamed = RetryBudget(f'BigQuery (tables {tables})', seconds)
    return _unnamed


class _Client:
  """One watched client: the table it called last stands in for calls that name none."""

  def __init__(self):
    self.last = None

  def budget(self, url, body=None):
    key = table_of(url, body)
    if key is None:
      key = self.last
    self.last = key
    return _budget_for(key)


def _call_name(method, url):
  return f'{method} {urlsplit(url or "").path}'  # never the query string


def _watch_apitools_http(http):
  """Wraps ``http.request`` (httplib2 signature) of an apitools client."""
  if http is None or getattr(http.request, _MARK, False):
    return
  send, client = http.request, _Client()

  def request(uri, *args, **kwargs):
    method = kwargs.get('method') or (args[0] if args else 'GET')
    budget = client.budget(uri, kwargs.get('body', args[1] if len(args) > 1 else None))
    if budget is None:
      return send(uri, *args, **kwargs)
    try:
      response, content = send(uri, *args, **kwargs)
    except RetryBudgetExceeded:
      raise
    except Exception as e:  # pylint: disable=broad-except
      budget.failed(e, _call_name(method, uri))
      raise
    status = getattr(response, 'status', 200)
    if status >= 400:
      budget.failed(f'HTTP {status}', _call_name(method, uri))
    else:
      budget.succeeded()
    return response, content

  setattr(request, _MARK, True)
  http.request = request


def _watch_cloud_client(client):
  """Wraps ``Connection.api_request`` of a google-cloud-bigquery Client."""
  connection = getattr(client, '_connection', None)
  if connection is None or getattr(connection.api_request, _MARK, False):
    return
  send, watched = connection.api_request, _Client()

  def api_request(*args, **kwargs):
    method = kwargs.get('method') or (args[0] if args else 'GET')
    path = kwargs.get('path') or (args[1] if len(args) > 1 else '')
    budget = watched.budget(path)
    if budget is None:
      return send(*args, **kwargs)
    try:
      result = send(*args, **kwargs)
    except RetryBudgetExceeded:
      raise
    except Exception as e:  # pylint: disable=broad-except
      budget.failed(e, _call_name(method, path))
      raise
    budget.succeeded()
    return result

  setattr(api_request, _MARK, True)
  connection.api_request = api_request


def apply_retry_budget():
  """Makes every BigQueryWrapper Beam creates from now on watch its calls (idempotent)."""
  from apache_beam.io.gcp import bigquery_tools
  cls = bigquery_tools.BigQueryWrapper
  with _LOCK:
    init = cls.__init__
    if getattr(init, _MARK, False):
      return

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
      init(self, *args, **kwargs)
      _watch_apitools_http(getattr(self.client, 'http', None))
      if self.gcp_bq_client is not self.client:  # a test client stands in for both
        _watch_cloud_client(self.gcp_bq_client)

    setattr(__init__, _MARK, True)
    cls.__init__ = __init__
