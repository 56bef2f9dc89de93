"""Patch ``bigquery_retry_budget``: every BigQuery call Beam makes counts against its table's
retry budget (``beam_pipelines.transforms.write.retry_budget``).

Beam's BigQuery IO retries in nested loops: its ``with_exponential_backoff`` decorators
(``get_table`` inside ``get_or_create_table``, load jobs, insertAll), apitools' connection
retries inside every apitools call, google-cloud-bigquery's ``DEFAULT_RETRY`` (600 s deadline)
around every insertAll, and BigQueryWriteFn's flush loop (up to 10000 attempts). With the
endpoint gone for good, a STREAMING_INSERTS run was still retrying after 600 s.

``apply()`` makes every ``BigQueryWrapper`` Beam creates record each HTTP attempt of its two
clients (apitools' ``http.request``, google-cloud-bigquery's ``Connection.api_request``)
against the budget of the table the attempt is for (from its URL, the table reference in its
JSON body, or else the table the same client called last). An answer below HTTP 400 ends the
table's failure streak; an exception or an error status starts or extends it. Once the streak
is longer than the budget, the next failed attempt raises ``RetryBudgetExceeded``, which no
retry loop retries. Tables with no budget registered (or a budget of 0) are not affected.
"""

import functools
from urllib.parse import urlsplit

from beam_pipelines.transforms.write.retry_budget import LOCK, RetryBudgetExceeded, budget_for, table_of

WATCHED_MARK = '_retry_budget_watched'


class _Client:
  """One watched client: the table it called last stands in for calls that name none."""

  def __init__(self):
    self.last = None

  def budget(self, url, body=None):
    key = table_of(url, body)
    if key is None:
      key = self.last
    self.last = key
    return budget_for(key)


def _call_name(method, url):
  return f'{method} {urlsplit(url or "").path}'  # never the query string


def watch_apitools_http(http):
  """Wraps ``http.request`` (httplib2 signature) of an apitools client."""
  if http is None or getattr(http.request, WATCHED_MARK, False):
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

  setattr(request, WATCHED_MARK, True)
  http.request = request


def watch_cloud_client(client):
  """Wraps ``Connection.api_request`` of a google-cloud-bigquery Client."""
  connection = getattr(client, '_connection', None)
  if connection is None or getattr(connection.api_request, WATCHED_MARK, False):
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

  setattr(api_request, WATCHED_MARK, True)
  connection.api_request = api_request


def apply():
  """Makes every BigQueryWrapper Beam creates from now on watch its calls (idempotent)."""
  from apache_beam.io.gcp import bigquery_tools
  cls = bigquery_tools.BigQueryWrapper
  with LOCK:
    init = cls.__init__
    if getattr(init, WATCHED_MARK, False):
      return

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
      init(self, *args, **kwargs)
      watch_apitools_http(getattr(self.client, 'http', None))
      if self.gcp_bq_client is not self.client:  # a test client stands in for both
        watch_cloud_client(self.gcp_bq_client)

    setattr(__init__, WATCHED_MARK, True)
    cls.__init__ = __init__
