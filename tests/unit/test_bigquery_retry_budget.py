"""The BigQuery retry budget: the streak tracker, request attribution, the client wrappers,
and that every retry loop on the way lets RetryBudgetExceeded through."""

import math

import pytest

from beam_pipelines.transforms.beam_patches import bigquery_retry_budget as patch
from beam_pipelines.transforms.write import retry_budget as rb


class FakeClock:
  def __init__(self):
    self.now = 1000.0

  def __call__(self):
    return self.now


def test_a_streak_longer_than_the_budget_raises_naming_table_budget_and_error():
  clock = FakeClock()
  budget = rb.RetryBudget('p:ds.events', 10, clock=clock)
  budget.failed(ConnectionRefusedError(111, 'Connection refused'))  # the streak starts
  clock.now += 10
  budget.failed(ConnectionRefusedError(111, 'Connection refused'))  # 10 s: not yet over
  clock.now += 0.5
  cause = ConnectionRefusedError(111, 'Connection refused')
  with pytest.raises(rb.RetryBudgetExceeded) as info:
    budget.failed(cause, 'GET /bigquery/v2/projects/p/datasets/ds/tables/events')
  message = str(info.value)
  assert 'p:ds.events' in message and 'retry budget of 10 s' in message
  assert 'failed for 10.5 s' in message
  assert 'ConnectionRefusedError' in message and 'GET /bigquery/v2/' in message
  assert info.value.__cause__ is cause


def test_a_success_resets_the_streak():
  clock = FakeClock()
  budget = rb.RetryBudget('ds.events', 10, clock=clock)
  budget.failed('HTTP 503')
  clock.now += 9
  budget.succeeded()
  clock.now += 5
  budget.failed('HTTP 503')  # a new streak starts here
  clock.now += 10
  budget.failed('HTTP 503')
  clock.now += 1
  with pytest.raises(rb.RetryBudgetExceeded, match='failed for 11.0 s.*last error: HTTP 503'):
    budget.failed('HTTP 503')
  budget.succeeded()
  budget.failed('HTTP 503')  # over again: fresh streak, no raise


def test_zero_means_no_limit():
  clock = FakeClock()
  budget = rb.RetryBudget('ds.events', 0, clock=clock)
  for _ in range(10):
    budget.failed('HTTP 503')
    clock.now += 86400


@pytest.mark.parametrize('value', [-1, -0.5, math.nan, math.inf, '600', None, True])
def test_bad_budgets_are_rejected(value):
  with pytest.raises(ValueError, match='retry_budget_seconds'):
    rb.check_retry_budget(value)


def test_no_retry_loop_retries_it():
  """Beam's filters, google-cloud-bigquery's predicate and apitools' handler let it through."""
  from apache_beam.utils import retry
  from apitools.base.py import http_wrapper
  from google.cloud.bigquery.retry import DEFAULT_RETRY
  exc = rb.RetryBudgetExceeded('over budget')
  for beam_filter in (retry.retry_on_server_errors_filter,
                      retry.retry_on_server_errors_and_timeout_filter,
                      retry.retry_on_server_errors_timeout_or_quota_issues_filter,
                      retry.retry_if_valid_input_but_server_error_and_timeout_filter):
    assert beam_filter(exc) is False, beam_filter.__name__
  assert DEFAULT_RETRY._predicate(exc) is False
  args = http_wrapper.ExceptionRetryArgs(None, None, exc, 1, 60, 0)
  with pytest.raises(rb.RetryBudgetExceeded):
    http_wrapper.HandleExceptionsAndRebuildHttpConnections(args)


@pytest.mark.parametrize('url, body, table', [
    ('http://h/bigquery/v2/projects/p/datasets/ds/tables/events?alt=json', None,
     ('ds', 'events')),
    ('/projects/p/datasets/ds/tables/events/insertAll', None, ('ds', 'events')),
    ('http://h/bigquery/v2/projects/p/datasets/ds/tables/events%2420240101', None,
     ('ds', 'events')),
    ('http://h/bigquery/v2/projects/p/jobs',
     '{"configuration": {"load": {"destinationTable": {"datasetId": "ds", "projectId": "p", '
     '"tableId": "events"}, "sourceUris": ["/tmp/x"]}}}', ('ds', 'events')),
    ('http://h/bigquery/v2/projects/p/datasets/ds/tables',
     b'{"schema": {"fields": []}, "tableReference": {"projectId": "p", "tableId": "t2", '
     b'"datasetId": "ds"}}', ('ds', 't2')),
    ('http://h/bigquery/v2/projects/p/jobs/job1', None, None),
    ('http://h/bigquery/v2/projects/p/datasets/ds', '{"x": 1}', None),
])
def test_table_of_a_request(url, body, table):
  assert rb.table_of(url, body) == table


class FakeHttp:
  """httplib2-like: ``request`` returns (response with .status, content) or raises."""

  class Response(dict):
    def __init__(self, status):
      super().__init__()
      self.status = status

  def __init__(self, outcomes):
    self.outcomes = list(outcomes)

  def request(self, uri, method='GET', body=None, headers=None, **kwargs):
    outcome = self.outcomes.pop(0)
    if isinstance(outcome, Exception):
      raise outcome
    return self.Response(outcome), b'{}'


@pytest.fixture
def budgets(monkeypatch):
  """A fresh registry; yields a function making a registered budget use a fake clock."""
  monkeypatch.setattr(rb, '_BUDGETS', {})
  monkeypatch.setattr(rb, '_unnamed', None)
  clock = FakeClock()

  def register(table, seconds, fresh=False):
    rb.register_retry_budget(table, seconds, fresh=fresh)
    for budget in rb.registered_budgets():
      budget.clock = clock
    return clock
  return register


def test_the_apitools_wrapper_counts_errors_and_statuses_and_names_the_request(budgets):
  clock = budgets('p:ds.events', 5)
  url = 'http://h/bigquery/v2/projects/p/datasets/ds/tables/events'
  http = FakeHttp([ConnectionRefusedError(111, 'refused'), 503, 200, 503, 404, 503])
  patch.watch_apitools_http(http)
  patch.watch_apitools_http(http)  # idempotent: wrapped once  pylint: disable=protected-access
  with pytest.raises(ConnectionRefusedError):
    http.request(url, method='GET')
  clock.now += 4
  assert http.request(url, method='GET')[0].status == 503  # apitools retries it itself
  assert http.request(url, method='GET')[0].status == 200  # resets the streak
  clock.now += 100
  http.request(url, method='GET')  # 503: a new streak
  clock.now += 4
  http.request(url, method='GET')  # 404 counts as a failure too: no success yet
  clock.now += 1.5
  with pytest.raises(rb.RetryBudgetExceeded, match=r'HTTP 503 \[GET /bigquery/v2/projects/p/'):
    http.request(url, method='GET')


def test_calls_naming_no_table_count_against_the_clients_last_table(budgets):
  clock = budgets('ds.events', 5)
  http = FakeHttp([200, ConnectionRefusedError(111, 'refused'),
                   ConnectionRefusedError(111, 'refused')])
  patch.watch_apitools_http(http)
  http.request('http://h/bigquery/v2/projects/p/jobs', method='POST',
               body='{"configuration": {"load": {"destinationTable": {"datasetId": "ds", '
                    '"tableId": "events"}}}}')
  with pytest.raises(ConnectionRefusedError):
    http.request('http://h/bigquery/v2/projects/p/jobs/j1', method='GET')
  clock.now += 6
  with pytest.raises(rb.RetryBudgetExceeded, match='ds.events'):
    http.request('http://h/bigquery/v2/projects/p/jobs/j1', method='GET')


def test_unregistered_tables_and_zero_budgets_are_left_alone(budgets):
  budgets('ds.events', 0)
  errors = [ConnectionRefusedError(111, 'refused')] * 3
  http = FakeHttp(errors)
  patch.watch_apitools_http(http)
  for url in ('http://h/bigquery/v2/projects/p/datasets/ds/tables/events',
              'http://h/bigquery/v2/projects/p/datasets/ds/tables/other',
              'http://h/bigquery/v2/projects/p/jobs/j1'):  # unnamed: a table is unlimited
    with pytest.raises(ConnectionRefusedError):
      http.request(url)


def test_the_cloud_client_wrapper(budgets):
  from google.api_core.exceptions import ServiceUnavailable
  clock = budgets('ds.events', 5)
  outcomes = [ServiceUnavailable('down'), {'insertErrors': []}, ServiceUnavailable('down'),
              ServiceUnavailable('down')]

  class Connection:
    def api_request(self, method, path, **kwargs):
      outcome = outcomes.pop(0)
      if isinstance(outcome, Exception):
        raise outcome
      return outcome

  class Client:
    _connection = Connection()

  client = Client()
  patch.watch_cloud_client(client)
  path = '/projects/p/datasets/ds/tables/events/insertAll'
  with pytest.raises(ServiceUnavailable):
    client._connection.api_request(method='POST', path=path)
  clock.now += 10
  assert client._connection.api_request(method='POST', path=path) == {'insertErrors': []}
  with pytest.raises(ServiceUnavailable):
    client._connection.api_request(method='POST', path=path)
  clock.now += 6
  with pytest.raises(rb.RetryBudgetExceeded, match='503 down'):
    client._connection.api_request(method='POST', path=path)


def test_apply_is_idempotent_and_watches_new_wrappers():
  from apache_beam.io.gcp import bigquery_tools
  patch.apply()
  init = bigquery_tools.BigQueryWrapper.__init__
  patch.apply()
  assert bigquery_tools.BigQueryWrapper.__init__ is init

  class FakeApitoolsClient:
    http = FakeHttp([])

  client = FakeApitoolsClient()
  bigquery_tools.BigQueryWrapper(client=client)
  assert getattr(client.http.request, patch.WATCHED_MARK)


def test_registering_the_same_budget_again_keeps_the_streak(budgets):
  clock = budgets('ds.events', 5)
  budget = rb.budget_for(('ds', 'events'))
  budget.failed('HTTP 503')
  rb.register_retry_budget('ds.events', 5)  # DoFn.setup on another worker thread
  assert rb.budget_for(('ds', 'events')) is budget
  clock.now += 6
  with pytest.raises(rb.RetryBudgetExceeded):
    budget.failed('HTTP 503')
  rb.register_retry_budget('ds.events', 60)  # a new budget: a new tracker
  assert rb.budget_for(('ds', 'events')).seconds == 60


def test_a_new_pipeline_starts_a_fresh_streak(budgets):
  clock = budgets('ds.events', 60)
  rb.budget_for(('ds', 'events')).failed('HTTP 503')  # an earlier run  pylint: disable=protected-access
  clock.now += 61
  budgets('ds.events', 60, fresh=True)  # the sink of the next pipeline is built
  rb.budget_for(('ds', 'events')).failed('HTTP 503')  # no raise  pylint: disable=protected-access
