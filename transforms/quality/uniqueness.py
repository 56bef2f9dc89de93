"""The ``unique`` rule: a key seen more than once in one quality window.

Rows are keyed by ``<window start>|<key values>`` (the window from the row's event time and
``window_seconds``; without a window, the whole run) and pass a stateful DoFn that
remembers the keys it has seen: the first row of a key passes, every later one fails. Rows
are not held back or re-windowed (no GroupByKey): they leave with their own timestamps and
windows. Which of two duplicates counts as "first" is the order the runner delivers them
(not deterministic in batch); the uniqueness *score* does not depend on it. Rows whose key is
missing or null, and rows already dead-lettered by another rule, are not checked. A state
cell per key lives until its window's end plus the allowed lateness (an event-time timer
clears it), so streaming state stays bounded.
"""

import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer

from beam_pipelines.transforms.quality.rules import unique_key


def window_start(event_time, window_seconds):
  if window_seconds is None or event_time is None:
    return None
  return (event_time // window_seconds) * window_seconds


class KeyForUniqueFn(beam.DoFn):
  """(row, outcome) -> (key, (row, outcome)), or the pair unchanged on tag 'skip'."""
  SKIP = 'skip'

  def __init__(self, rule, window_seconds):
    self._rule = rule
    self._window_seconds = window_seconds

  def process(self, pair):
    row, outcome = pair
    if outcome['dead']:
      yield beam.pvalue.TaggedOutput(self.SKIP, pair)
      return
    key = unique_key(row, self._rule.paths)
    if key is None:
      yield beam.pvalue.TaggedOutput(self.SKIP, pair)
      return
    start = window_start(outcome['event_time'], self._window_seconds)
    yield ('' if start is None else repr(start)) + '|' + key, pair


class MarkDuplicatesFn(beam.DoFn):
  """Stateful: the first row of a key passes the rule, later ones fail it."""
  SEEN = ReadModifyWriteStateSpec('seen', BooleanCoder())
  EXPIRY = TimerSpec('expiry', TimeDomain.WATERMARK)

  def __init__(self, rule, window_seconds, lateness_seconds):
    self._rule = rule
    self._window_seconds = window_seconds
    self._lateness = lateness_seconds

  def process(self, keyed, seen=beam.DoFn.StateParam(SEEN),
              expiry=beam.DoFn.TimerParam(EXPIRY)):
    key, (row, outcome) = keyed
    rule = self._rule
    checks = outcome['checks']
    if seen.read():
      checks[rule.id] = (1, 1)
      outcome['failures'].append((rule, f'duplicate {",".join(rule.paths)} in the window'))
      if rule.action == 'dead_letter':
        outcome['dead'] = True
    else:
      checks[rule.id] = (1, 0)
      seen.write(True)
      start = window_start(outcome['event_time'], self._window_seconds)
      if start is not None:
        expiry.set(start + self._window_seconds + self._lateness)
    yield row, outcome

  @on_timer(EXPIRY)
  def expire(self, seen=beam.DoFn.StateParam(SEEN)):
    seen.clear()
