"""The run summary: counters per stage and outcome, dead letters by errorType."""

import json

from apache_beam.metrics.metric import MetricsFilter


def collect_counters(result):
  """{(namespace, name): value} of every user counter of a finished run."""
  counters = {}
  for metric in result.metrics().query(MetricsFilter())['counters']:
    key = (metric.key.metric.namespace, metric.key.metric.name)
    value = metric.committed if metric.committed is not None else metric.attempted
    counters[key] = counters.get(key, 0) + (value or 0)
  return counters


def build_summary(counters, extra=None):
  """A JSON-able summary dict from collected counters."""
  dead_by_type = {name: value for (ns, name), value in counters.items()
                  if ns == 'dead_letters' and name != 'total'}
  attempted = counters.get(('sink', 'rows_attempted'), 0)
  failed = counters.get(('sink', 'rows_failed'), 0)
  summary = {
      'records_read': counters.get(('read', 'records'), 0),
      'files_read': counters.get(('read', 'files'), 0),
      'rows_written': attempted - failed,
      'dead_letters': counters.get(('dead_letters', 'total'), 0),
      # Records removed on purpose: subjects on the erase list (GDPR right to be forgotten).
      'erased': counters.get(('mask', 'erased'), 0),
      'dead_letters_by_type': dict(sorted(dead_by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
      'counters': {f'{ns}/{name}': value for (ns, name), value in sorted(counters.items())},
  }
  summary.update(extra or {})
  return summary


def format_summary(summary, title='Run summary'):
  """A readable table of the summary."""
  lines = [title, '=' * len(title)]
  for key in ('records_read', 'rows_written', 'dead_letters', 'erased'):
    lines.append(f'  {key.replace("_", " "):<28}{summary.get(key, 0):>10}')
  for key in ('messages_read', 'duplicates_removed', 'windows_emitted',
              'aggregate_rows_written', 'late_data'):  # streaming / windowed runs only
    if key in summary:
      lines.append(f'  {key.replace("_", " "):<28}{summary[key]:>10}')
  if summary.get('dead_letters_by_type'):
    lines.append('  dead letters by errorType:')
    for error_type, count in summary['dead_letters_by_type'].items():
      lines.append(f'    {error_type:<40}{count:>8}')
  lines.append('  counters:')
  for name, value in summary.get('counters', {}).items():
    lines.append(f'    {name:<40}{value:>8}')
  return '\n'.join(lines)


def write_summary(summary, path):
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(summary, f, indent=2, sort_keys=True)
