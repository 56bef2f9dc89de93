"""The counting invariant of a run summary: records in == rows written + dead letters +
records removed on purpose (each counted), and the alerts part of a summary.

    batch:     records read  == rows written + dead letters + erased + dropped by the UDF
                                + dropped by enrichment
    streaming: messages read == the same + duplicates removed - rows both written and
                                dead-lettered by the window stage (late, no event time)

A running streaming job has records in flight: its difference is shown, not judged.
"""

REMOVED_ON_PURPOSE = (('erased', ('mask', 'erased')), ('dropped_by_udf', ('user', 'dropped')),
                      ('dropped_by_enrichment', ('enrich', 'dropped')))


def counting_invariant(summary):
  """{'records_in', 'rows_written', 'dead_letters', 'removed': {name: n}, 'difference',
  'holds'} from a summary's keys and counters."""
  counters = summary.get('counters', {})
  removed = {name: counters.get('/'.join(key), 0) for name, key in REMOVED_ON_PURPOSE}
  streaming = 'messages_read' in summary
  records_in = summary['messages_read'] if streaming else summary.get('records_read', 0)
  if streaming:
    removed['duplicates_removed'] = summary.get('duplicates_removed', 0)
  accounted = (summary.get('rows_written', 0) + summary.get('dead_letters', 0)
               + sum(removed.values()) - summary.get('aggregation_exclusions', 0))
  return {'records_in': records_in, 'rows_written': summary.get('rows_written', 0),
          'dead_letters': summary.get('dead_letters', 0), 'removed': removed,
          'difference': records_in - accounted, 'holds': records_in == accounted}


def alert_counts(counters):
  """The ``alerts`` part of a summary from the ``alerts/*`` counters (None without SLAs)."""
  a = {name: value for (ns, name), value in counters.items() if ns == 'alerts'}
  if not a:
    return None
  delivery = {}
  for channel in ('pubsub', 'webhook'):
    got = {what: a.get(f'{channel}_{what}', 0) for what in ('delivered', 'retries', 'failed')}
    if any(got.values()):
      delivery[channel] = got
  return {'raised': a.get('raised', 0), 'critical': a.get('raised_critical', 0),
          'warning': a.get('raised_warning', 0), 'suppressed': a.get('suppressed', 0),
          'windows_checked': a.get('windows_checked', 0), 'delivery': delivery}
