"""The worker refresh: each worker process holds the lookup in the join step and reloads it.

``refresh_strategy='worker'`` (the default on every runner but Dataflow): no refresh
impulse, no side input, no extra step; the join DoFn asks the process's ``LookupHolder`` for
the current version, which is a clock read while the version is younger than
``refresh_seconds``. When it is older, the next row to be joined reloads it (other threads
of the process wait for that load instead of loading again), and the new version replaces
the old in one assignment: a row never sees half a table. Hence, per worker process:

* a row joined at time T uses a version whose read started within the ``refresh_seconds``
  before T; a change to the source completed at time c is seen by every row joined at
  c + ``refresh_seconds`` or later, on every worker; rows joined in between may see either;
* versions only move forward on a worker; two workers may hold different versions for up to
  ``refresh_seconds`` (each reloads on its own clock), so rows processed at the same moment
  on two workers may see different versions; ``version_field`` records which one per row;
* a failed reload keeps the last good version (logged, ``enrich/refresh_failures``) and is
  tried again ``refresh_seconds`` later; a failed *first* load fails the bundle (the runner
  retries it; a lookup that never loads fails the run loudly, naming the source);
* an idle worker loads nothing: loads follow rows (at most one per ``refresh_seconds`` per
  process, plus one per process start).

The holder is per process, shared by every DoFn instance and thread of the transform there
(a runner may deserialise the DoFn once per bundle: the DirectRunners do), found by a token
made when the transform is built.
"""

import collections
import datetime
import logging
import threading
import time
from typing import Any

from beam_pipelines.transforms.enrichment.config import build_index

_LOG = logging.getLogger(__name__)
# token -> LookupHolder, this process's
_HOLDERS: 'collections.OrderedDict[Any, Any]' = collections.OrderedDict()
_HOLDERS_LOCK = threading.Lock()
_MAX_HOLDERS = 256  # transforms built in one process (tests, notebooks): the oldest go


def version_text(seconds):
  """A version's id: the wall-clock time its read started, as a BigQuery TIMESTAMP."""
  moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
  return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class LookupVersion:
  """One loaded version of the lookup: its index and its id (``version_text``)."""
  __slots__ = ('index', 'version')

  def __init__(self, index, version):
    self.index = index
    self.version = version


class LookupHolder:
  """The current version of one transform's lookup in this process (thread-safe)."""

  def __init__(self, config, clock=time.monotonic, wall_clock=time.time):
    self._config = config
    self._interval = float(config.refresh_seconds)
    self._clock = clock
    self._wall_clock = wall_clock
    self._lock = threading.Lock()
    self._current = None
    self._fresh_until = None

  def get(self, counters):
    """The version to join with now, reloading first when it is older than the interval.

    Raises:
      LookupSourceError (or the source's error): when the first load fails.
    """
    current, fresh_until = self._current, self._fresh_until
    if current is not None and self._clock() < fresh_until:
      return current
    with self._lock:
      started = self._clock()
      if self._current is not None and started < self._fresh_until:
        return self._current  # another thread reloaded it meanwhile
      wall = self._wall_clock()
      try:
        index = build_index(self._config.source.read(), self._config, counters)
      except Exception as e:  # pylint: disable=broad-except
        if self._current is None:
          raise
        counters.refresh_failures.inc()
        self._fresh_until = started + self._interval  # try again one interval later
        _LOG.error('lookup refresh from %s failed, keeping the version of %s: %s',
                   self._config.source.describe(), self._current.version, e)
        return self._current
      counters.loads.inc()
      counters.refreshes.inc()
      self._current = LookupVersion(index, version_text(wall))
      self._fresh_until = started + self._interval
      _LOG.info('loaded lookup version %s from %s in %.2f s', self._current.version,
                self._config.source.describe(), self._clock() - started)
      return self._current


def holder_for(token, config):
  """This process's LookupHolder for the transform identified by ``token``."""
  with _HOLDERS_LOCK:
    holder = _HOLDERS.get(token)
    if holder is None:
      holder = _HOLDERS[token] = LookupHolder(config)
      while len(_HOLDERS) > _MAX_HOLDERS:
        _HOLDERS.popitem(last=False)
    else:
      _HOLDERS.move_to_end(token)
    return holder
