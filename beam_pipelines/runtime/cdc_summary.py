"""The run summary of ``cdc_to_bigquery``: the suite's summary plus the change counts, the
merge cost, and the counting invariant checked:

    changes read == applied + tombstones + messages skipped + duplicates + dead letters
                    + erased (GDPR) + dropped by enrichment
"""

from apache_beam.metrics.metric import MetricsFilter

from beam_pipelines.runtime.summary import build_summary, collect_lineage, format_summary


def collect_merge_ms(result):
  """The ``cdc/merge_ms`` distribution of a run as {count, sum, min, max}, or None."""
  try:
    distributions = result.metrics().query(MetricsFilter().with_name('merge_ms'))[
        'distributions']
  except Exception:  # pylint: disable=broad-except
    return None
  count = total = 0
  low, high = None, None
  for metric in distributions:
    value = metric.committed if metric.committed is not None else metric.attempted
    if value is None or not value.count:
      continue
    count += value.count
    total += value.sum
    low = value.min if low is None else min(low, value.min)
    high = value.max if high is None else max(high, value.max)
  if not count:
    return None
  return {'count': count, 'sum': total, 'min': low, 'max': high}


def cdc_summary(counters, merge_ms=None, cfg=None):
  """build_summary plus ``cdc`` (the change counts) and ``counting_invariant``."""
  def get(namespace, name):
    return counters.get((namespace, name), 0)

  # Pub/Sub messages removed by --id_attribute de-duplication never reach read/records: they
  # are read and are duplicates.
  pubsub_duplicates = get('dedup', 'duplicates')
  cdc = {
      'changes_read': get('read', 'records') + pubsub_duplicates,
      'changes_applied': get('cdc', 'applied'),
      'tombstones_skipped': get('cdc', 'tombstones'),
      'messages_skipped': get('cdc', 'messages_skipped'),
      'duplicates': get('cdc', 'duplicates') + pubsub_duplicates,
      'dead_letters': get('dead_letters', 'total'),
      'erased': get('mask', 'erased'),
      'enrichment_dropped': get('enrich', 'dropped'),
      'merges': get('cdc', 'merges'),
      'keys_recomputed': get('cdc', 'keys_recomputed'),
      'changes_by_op': {op: get('cdc', f'changes_{op}') for op in 'crudt'},
  }
  if merge_ms:
    cdc['merge_ms'] = dict(merge_ms, mean=round(merge_ms['sum'] / merge_ms['count'], 1))
  accounted = sum(cdc[k] for k in ('changes_applied', 'tombstones_skipped',
                                   'messages_skipped', 'duplicates', 'dead_letters',
                                   'erased', 'enrichment_dropped'))
  extra = {'cdc': cdc, 'counting_invariant': {
      'read': cdc['changes_read'], 'accounted': accounted,
      'holds': cdc['changes_read'] == accounted}}
  if cfg is not None:
    extra['sources'], extra['sinks'] = cdc_io(cfg)
  summary = build_summary(counters, extra)
  summary['rows_written'] = cdc['changes_applied']  # rows written to the change log
  return summary


def cdc_io(cfg):
  """(sources, sinks) of a CdcPipelineConfig as [{'role', 'kind', 'name'}] lists."""
  source = cfg.source
  name = getattr(source, 'pattern', None) or source.subscription or source.topic
  sources = [{'role': 'input', 'kind': cfg.changes.format, 'name': name}]
  sinks = [{'role': 'replica', 'kind': 'bigquery', 'name': cfg.replica}]
  if cfg.merge is not None:
    sinks.append({'role': 'changelog', 'kind': 'bigquery', 'name': cfg.merge.changelog})
    if cfg.merge.history:
      sinks.append({'role': 'history', 'kind': 'bigquery', 'name': cfg.merge.history})
  dead = cfg.dead_letters
  sinks.append({'role': 'dead_letters', 'kind': dead.kind,
                'name': dead.table or dead.path or dead.topic})
  return sources, sinks


def run_cdc_summary(result, cfg=None, counters=None):
  """The whole summary of a (finished or running) run."""
  from beam_pipelines.runtime.summary import collect_counters
  summary = cdc_summary(collect_counters(result) if counters is None else counters,
                        collect_merge_ms(result), cfg)
  summary['lineage'] = collect_lineage(result)
  return summary


def format_cdc_summary(summary, title):
  """The suite's summary table with the change counts and the invariant under it."""
  lines = [format_summary(summary, title), '  changes:']
  cdc = summary['cdc']
  for key in ('changes_read', 'changes_applied', 'tombstones_skipped', 'messages_skipped',
              'duplicates', 'dead_letters', 'erased', 'enrichment_dropped', 'merges',
              'keys_recomputed'):
    lines.append(f'    {key.replace("_", " "):<40}{cdc[key]:>8}')
  ops = ', '.join(f'{op} {n}' for op, n in cdc['changes_by_op'].items())
  lines.append(f'    decoded by op: {ops}')
  if cdc.get('merge_ms'):
    m = cdc['merge_ms']
    lines.append(f'    merge cost: {m["count"]} merge(s), mean {m["mean"]} ms, min {m["min"]} '
                 f'ms, max {m["max"]} ms')
  check = summary['counting_invariant']
  lines.append(f'  counting invariant: read {check["read"]} == applied + skipped + duplicates '
               f'+ dead letters + erased + dropped = {check["accounted"]}: '
               f'{"OK" if check["holds"] else "MISMATCH"}')
  return '\n'.join(lines)
