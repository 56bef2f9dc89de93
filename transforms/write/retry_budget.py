"""A retry budget for BigQuery calls: once a table's calls have failed for too long, fail loudly.

A sink registers its table's budget (``register_retry_budget``, seconds; ``0``: no budget,
Beam's own retries alone). ``RetryBudget`` holds a table's failure streak: a success ends it,
a failure starts or extends it, and the first failure after the streak has lasted longer
than the budget raises ``RetryBudgetExceeded``, a Beam ``PermanentException``: Beam's retry
filters do not retry it, apitools re-raises exception types it does not know,
google-cloud-bigquery's retry predicate does not match it, so it goes through every loop and
fails the bundle, naming the table, the budget and the last underlying error.

The calls are counted by the Beam patch ``bigquery_retry_budget``
(``beam_pipelines.transforms.beam_patches``), which the pipelines switch on; without it budgets are
registered but nothing counts against them (Beam's retries alone). Calls that name no table
and come from a client that has named none (e.g. a fresh client polling ``jobs.get``) count
against the largest budget registered in the process, or none if any registered table is
unlimited: a call is never cut shorter than a sink asked.
"""

import math
import re
import threading
import time
from urllib.parse import unquote, urlsplit

from apache_beam.utils.retry import PermanentException

LOCK = threading.Lock()
_BUDGETS: 'dict[tuple[str, str], RetryBudget]' = {}  # (dataset, table) -> RetryBudget
_unnamed: 'RetryBudget | None' = None  # the RetryBudget for calls no table can be found for
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
    self.clock = clock
    self._lock = threading.Lock()
    self._since = None

  def succeeded(self):
    with self._lock:
      self._since = None

  def failed(self, error, call=''):
    now = self.clock()
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
  with LOCK:
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


def registered_budgets():
  """The RetryBudget of every table registered in this process."""
  with LOCK:
    return list(_BUDGETS.values())


def budget_for(key):
  """The RetryBudget a call for ``key`` ((dataset, table), or None when the call names no
  table) counts against, or None when it has no budget."""
  global _unnamed
  with LOCK:
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
