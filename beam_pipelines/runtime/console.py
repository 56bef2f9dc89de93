"""The run summary on the console: short by default, every counter with ``--verbose``.

``format_short``: the counting invariant, rows and dead letters, the top dead-letter types,
the quality scores and freshness in a line each, the alerts, where the report is.
``format_summary``: every key and counter (``--verbose``, the periodic streaming log).
"""

from beam_pipelines.runtime.invariant import counting_invariant

TOP_DEAD_LETTER_TYPES = 5
TOP_ALERTS = 5


def _fmt(value):
  return '-' if value is None else f'{value:.4f}'


def _format_job(job):
  lines = [f'  metrics: not available ({job["reason"]})']
  for key in ('runner', 'state', 'job_name', 'job_id', 'console_url'):
    lines.append(f'  {key.replace("_", " "):<28}{job.get(key) or "-"}')
  return lines


def format_summary(summary, title='Run summary'):
  """Every key and counter of the summary, as a readable table (``--verbose``)."""
  lines = [title, '=' * len(title)]
  if summary.get('job'):  # no metrics: what is known of the job
    lines += _format_job(summary['job'])
  for key in ('records_read', 'rows_written', 'dead_letters', 'erased'):
    if key in summary:
      lines.append(f'  {key.replace("_", " "):<28}{summary[key]:>10}')
  for key in ('messages_read', 'duplicates_removed', 'windows_emitted',
              'aggregate_rows_written', 'late_data'):  # streaming / windowed runs only
    if key in summary:
      lines.append(f'  {key.replace("_", " "):<28}{summary[key]:>10}')
  lines += _loads_lines(summary)
  if summary.get('dead_letters_by_type'):
    lines.append('  dead letters by errorType:')
    for error_type, count in summary['dead_letters_by_type'].items():
      lines.append(f'    {error_type:<40}{count:>8}')
  quality = summary.get('quality')
  if quality:
    lines.append(f'  quality (run; {quality["rows"]} rows, {quality["dead_letters"]} dead '
                 f'letters, {quality["flagged"]} flagged, {quality["windows_scored"]} '
                 'window(s) scored):')
    for score, value in quality['scores'].items():
      lines.append(f'    {score:<40}{_fmt(value):>8}')
    for rule, stats in quality['rules'].items():
      lines.append(f'    rule {rule:<35}{_fmt(stats["pass_rate"]):>8}  '
                   f'({stats["failed"]} of {stats["checked"]} failed)')
  if summary.get('drift'):
    lines.append('  schema drift:')
    for name, value in summary['drift'].items():
      lines.append(f'    {name:<40}{value:>8}')
  freshness = summary.get('freshness')
  if freshness and freshness.get('rows'):
    lines.append('  freshness (lag = processing time - event time):')
    for key in ('rows', 'lag_min_seconds', 'lag_mean_seconds', 'lag_max_seconds'):
      lines.append(f'    {key:<40}{freshness[key]:>8}')
  lines += _alert_lines(summary)
  if 'records_read' in summary:
    lines.append(_invariant_line(summary))
  if summary.get('report_path'):
    lines.append(f'  report: {summary["report_path"]}')
  if summary.get('stages'):
    lines.append('  per stage and outcome:')
    for stage, outcomes in summary['stages'].items():
      for name, value in outcomes.items():
        lines.append(f'    {stage + "/" + name:<40}{value:>8}')
  for key in ('sources', 'sinks'):
    if summary.get(key):
      lines.append(f'  {key}:')
      for item in summary[key]:
        lines.append(f'    {item["role"]:<13} {item["kind"]:<11} {item["name"]}')
  lineage = summary.get('lineage')
  if lineage is not None:
    lines.append('  lineage (Beam metrics): sources '
                 f'{", ".join(lineage["sources"]) or "none reported"}; sinks '
                 f'{", ".join(lineage["sinks"]) or "none reported"}')
  return '\n'.join(lines)


def _invariant_line(summary):
  inv = counting_invariant(summary)
  parts = [f'{inv["rows_written"]} rows written', f'{inv["dead_letters"]} dead letters']
  parts += [f'{n} {name.replace("_", " ")}' for name, n in inv['removed'].items() if n]
  if summary.get('aggregation_exclusions'):
    parts.append(f'- {summary["aggregation_exclusions"]} both written and window dead letters')
  what = 'messages read' if 'messages_read' in summary else 'records read'
  if inv['holds']:
    verdict = 'OK'
  elif summary.get('final_state') is None and 'messages_read' in summary:
    verdict = f'{inv["difference"]} in flight'
  else:
    verdict = f'MISMATCH by {inv["difference"]}'
  return f'  counting invariant: {what} {inv["records_in"]} == {" + ".join(parts)}: {verdict}'


def _alert_lines(summary):
  alerts = summary.get('alerts')
  if not alerts:
    return []
  lines = [f'  alerts: {alerts["raised"]} raised ({alerts["critical"]} critical, '
           f'{alerts["warning"]} warning), {alerts["suppressed"]} suppressed by the cool-down, '
           f'{alerts["windows_checked"]} window(s) checked']
  for item in (alerts.get('list') or [])[:TOP_ALERTS]:
    window = (item.get('window_start') or 'whole run')[:16].replace('T', ' ')
    lines.append(f'    {item["severity"]:<9} {item["rule"]:<24} {window:<17} {item["message"]}')
  more = len(alerts.get('list') or []) - TOP_ALERTS
  if more > 0:
    lines.append(f'    ... {more} more in the report')
  for channel, got in alerts.get('delivery', {}).items():
    lines.append(f'    {channel}: {got["delivered"]} delivered, {got["retries"]} retries, '
                 f'{got["failed"]} failed')
  return lines


def _loads_lines(summary):
  """What an exactly-once load (``--load_mode`` incremental/replace) did with its files."""
  loads = summary.get('loads')
  if not loads:
    return []
  settling = (f', {loads["files_settling"]} settling (modified too recently)'
              if loads.get('files_settling') else '')
  lines = [f'  files: {loads["files_matched"]} matched, {loads["files_skipped"]} skipped '
           f'(loaded before), {loads["files_changed"]} changed, {loads["files_committed"]} '
           f'committed{settling}']
  watch = summary.get('watch')
  if watch:
    lines.append(f'  watched: {watch["polls"]} polls every {watch["interval_seconds"]:g} s, '
                 f'{watch["commits"]} of them committed files, stopped by {watch["stopped_by"]}')
  return lines


def format_short(summary, title='Run summary'):
  """The short console summary (module docstring); ``format_summary`` for every counter."""
  if summary.get('job'):
    return format_summary(summary, title)
  lines = [title, '=' * len(title)]
  for key in ('messages_read', 'records_read', 'rows_written', 'dead_letters'):
    if key in summary:
      lines.append(f'  {key.replace("_", " "):<28}{summary[key]:>10}')
  lines.append(_invariant_line(summary))
  lines += _loads_lines(summary)
  by_type = summary.get('dead_letters_by_type') or {}
  if by_type:
    shown = list(by_type.items())[:TOP_DEAD_LETTER_TYPES]
    lines.append(f'  top dead-letter types ({len(shown)} of {len(by_type)}):')
    lines += [f'    {error_type:<40}{count:>8}' for error_type, count in shown]
  quality = summary.get('quality')
  if quality:
    scores = ', '.join(f'{k} {_fmt(v)}' for k, v in quality['scores'].items() if v is not None)
    lines.append(f'  quality: {scores or "no scores"} ({quality["windows_scored"]} window(s), '
                 f'{quality["flagged"]} rows flagged)')
  freshness = summary.get('freshness')
  if freshness and freshness.get('rows'):
    lines.append(f'  freshness: lag max {freshness["lag_max_seconds"]:.1f} s, mean '
                 f'{freshness["lag_mean_seconds"]:.1f} s over {freshness["rows"]} rows')
  lines += _alert_lines(summary)
  if summary.get('report_path'):
    lines.append(f'  report: {summary["report_path"]}')
  lines.append('  (every counter: --verbose)')
  return '\n'.join(lines)
