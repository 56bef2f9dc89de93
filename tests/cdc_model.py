"""A plain-Python model of the CDC rules (docs/cdc.md), written from the rules and not from
the SQL, so the merge can be checked against it.

A change is a dict with ``key`` (hashable, None for a truncate), ``op`` (c/r/u/d/t),
``order`` (comparable), ``ts`` (source time), ``row`` (the image; any value) and ``id`` (a
tie-breaker that is unique per key and order, like ``_cdc_change_id``).
"""


def distinct(changes):
  """Redeliveries (same key and order) applied once: the first of each (key, order)."""
  seen, out = set(), []
  for change in changes:
    ident = (change['key'], change['order'])
    if ident not in seen:
      seen.add(ident)
      out.append(change)
  return out


def events_of(key, changes, apply_truncate):
  """All changes of ``key`` plus (truncates applied) every truncate, in order."""
  own = [c for c in changes if c['key'] == key and c['op'] != 't']
  truncates = [c for c in changes if c['op'] == 't'] if apply_truncate else []
  return sorted(own + truncates, key=lambda c: (c['order'], c['id']))


def replica(changes, apply_truncate=False):
  """{key: change} of the rows that exist: per key the change with the highest order wins;
  a delete (or a later truncate) removes the row."""
  changes = distinct(changes)
  out = {}
  for key in {c['key'] for c in changes if c['op'] != 't'}:
    last = events_of(key, changes, apply_truncate)[-1]
    if last['op'] not in ('d', 't'):
      out[key] = last
  return out


def history(changes, apply_truncate=False):
  """{key: [(row, valid_from, valid_to, is_current), ...]} of the SCD2 versions: each c/r/u
  opens a version at its source time, closed at the next event's source time; a delete or
  truncate closes and opens nothing; the last version is current."""
  changes = distinct(changes)
  out = {}
  for key in {c['key'] for c in changes if c['op'] != 't'}:
    events = events_of(key, changes, apply_truncate)
    versions = []
    for i, event in enumerate(events):
      if event['op'] in ('d', 't'):
        continue
      following = events[i + 1] if i + 1 < len(events) else None
      versions.append((event['row'], event['ts'],
                       None if following is None else following['ts'], following is None))
    if versions:
      out[key] = versions
  return out
