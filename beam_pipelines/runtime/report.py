"""The run report: one self-contained HTML page made from the run summary (``--report_path``).

Sections: the counting invariant; rows and dead letters per stage; dead letters by errorType
with examples (masked: ``report_data``); volume, quality-score and freshness charts per
window (``report_charts``, inline SVG); alerts; sources, sinks and lineage. Everything is in
the page (no script, no stylesheet or font from elsewhere), so it opens with no network.
Every number a reader may check carries ``data-metric="<summary key>"``: a test compares
them with the summary JSON.
"""

import datetime
import html
import os

from beam_pipelines.runtime import report_charts
from beam_pipelines.runtime.invariant import counting_invariant

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;
color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#666}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:22px}.ok{color:#2a7d2a}.bad{color:#b42318}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid #eee;padding:3px 10px;
text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,Menlo,monospace}pre{white-space:pre-wrap;word-break:break-all;
margin:0;max-width:640px}.sev-critical{color:#b42318;font-weight:600}.sev-warning{color:#b54708}
figure{margin:10px 0}figure svg{max-width:100%;height:auto}.muted{color:#777}
"""


def _e(value):
  return html.escape('' if value is None else str(value))


def _num(key, value):
  return f'<span data-metric="{_e(key)}">{_e(value)}</span>'


def _table(headers, rows, numeric=()):
  head = ''.join(f'<th class="{"n" if h in numeric else ""}">{_e(h)}</th>' for h in headers)
  body = ''.join('<tr>' + ''.join(
      f'<td class="{"n" if h in numeric else ""}">{cell}</td>'
      for h, cell in zip(headers, row, strict=False)) + '</tr>' for row in rows)
  return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _invariant(summary):
  inv = counting_invariant(summary)
  what = 'messages read' if 'messages_read' in summary else 'records read'
  key = 'messages_read' if 'messages_read' in summary else 'records_read'
  cards = [(what, key, inv['records_in']), ('rows written', 'rows_written', inv['rows_written']),
           ('dead letters', 'dead_letters', inv['dead_letters'])]
  cards += [(name.replace('_', ' '), f'removed.{name}', n) for name, n in inv['removed'].items()
            if n]
  out = '<div class="cards">' + ''.join(
      f'<div class="card">{_e(label)}<b>{_num(k, v)}</b></div>' for label, k, v in cards)
  verdict = ('<span class="ok">holds</span>' if inv['holds']
             else f'<span class="bad">differs by {_num("invariant.difference", inv["difference"])}'
                  '</span>')
  parts = ' + '.join([f'{inv["rows_written"]} rows written', f'{inv["dead_letters"]} dead letters']
                     + [f'{n} {k.replace("_", " ")}' for k, n in inv['removed'].items() if n])
  return (out + '</div><p>Counting invariant: ' + _e(f'{what} {inv["records_in"]} == {parts}')
          + f': {verdict}</p>')


def _stages(summary):
  rows = [(_e(stage), ' &middot; '.join(f'{_e(outcome)} {_num(f"stages.{stage}.{outcome}", n)}'
                                       for outcome, n in outcomes.items()))
          for stage, outcomes in (summary.get('stages') or {}).items()]
  return _table(['stage', 'counters (outcome count)'], rows)


def _dead_letters(summary):
  by_type = summary.get('dead_letters_by_type') or {}
  if not by_type:
    return '<p>No dead letters.</p>'
  chart = report_charts.bars_chart('Dead letters by errorType', list(by_type.items())[:20],
                                   report_charts.COLORS['dead'], 'dead letters')
  examples = summary.get('dead_letter_examples')
  rows = []
  for error_type, n in by_type.items():
    shown = [_example(x) for x in (examples or {}).get(error_type) or []]
    cells = ''.join(shown[:1]) + (f'<details><summary>{len(shown) - 1} more</summary>'
                                  + ''.join(shown[1:]) + '</details>' if len(shown) > 1 else '')
    rows.append((f'<code>{_e(error_type)}</code>', _num(f'dead_letters_by_type.{error_type}', n),
                 cells or '<span class="muted">-</span>'))
  if examples is None:
    note = 'Examples: the dead-letter sink cannot be read back.'
  elif summary.get('examples_masked'):
    note = 'Examples are the dead letters as written, masked by the masking policy.'
  else:
    note = 'Payloads are not shown: no masking policy (--masking_policy) masked them.'
  return (f'<figure id="chart-dead-letters" class="chart">{chart}</figure>'
          + _table(['errorType', 'count', 'examples'], rows, numeric=('count',))
          + f'<p class="muted">{_e(note)}</p>')


def _example(x):
  return (f'<div><code>{_e(x["stage"])} {_e(x["sourceId"])}</code> {_e(x["errorMessage"])}'
          + (f'<pre>{_e(x["payload"])}</pre>' if x.get('payload') is not None else '')
          + '</div>')


def _windows(summary):
  windows = summary.get('windows')
  if windows is None:
    return '<p>No quality rules: no per-window data (--quality_rules).</p>'
  if not windows:
    return '<p>No window was scored in this run.</p>'
  alerts = (summary.get('alerts') or {}).get('list') or []
  charts = [('chart-volume', report_charts.volume_chart(windows, alerts)),
            ('chart-quality', report_charts.scores_chart(windows)),
            ('chart-freshness', report_charts.freshness_chart(windows))]
  figures = ''.join(f'<figure id="{i}" class="chart">{svg}</figure>' for i, svg in charts)
  cols = ('window_start', 'pane', 'rows', 'dead_lettered', 'flagged', 'completeness',
          'validity', 'uniqueness', 'freshness', 'lag_p95_seconds', 'newest_event_age_seconds')
  rows = [[_num(f'windows.{i}.{c}', w.get(c)) if c not in ('window_start', 'pane')
           else _e(w.get(c) or 'run') for c in cols] for i, w in enumerate(windows)]
  return figures + '<details><summary>Windows as numbers</summary>' + _table(
      list(cols), rows, numeric=cols[2:]) + '</details>'


def _alerts(summary):
  alerts = summary.get('alerts')
  if alerts is None:
    return '<p>No SLA rules (slas in --quality_rules), or no window checked yet.</p>'
  counts = (f'<p>{_num("alerts.raised", alerts["raised"])} raised '
            f'({_num("alerts.critical", alerts["critical"])} critical, '
            f'{_num("alerts.warning", alerts["warning"])} warning), '
            f'{_num("alerts.suppressed", alerts["suppressed"])} suppressed by the cool-down, '
            f'{_num("alerts.windows_checked", alerts["windows_checked"])} window(s) checked.</p>')
  delivery = ''.join(f'<p>{_e(c)}: {_e(d["delivered"])} delivered, {_e(d["retries"])} retries, '
                     f'{_e(d["failed"])} failed</p>' for c, d in alerts.get('delivery', {}).items())
  rows = [(f'<span class="sev-{_e(a["severity"])}">{_e(a["severity"])}</span>', _e(a['rule']),
           _e(a.get('window_start') or 'run'), _e(a.get('observed')), _e(a.get('expected')),
           _e(a.get('message')), f'<code>{_e(a.get("dead_letters_query"))}</code>')
          for a in alerts.get('list') or []]
  table = _table(['severity', 'rule', 'window', 'observed', 'expected', 'message',
                  'dead letters of the window'], rows) if rows else ''
  return counts + delivery + table


def _io(summary):
  rows = [(_e(kind_role), _e(item['role']), _e(item['kind']), f'<code>{_e(item["name"])}</code>')
          for kind_role in ('source', 'sink')
          for item in summary.get(kind_role + 's') or []]
  lineage = summary.get('lineage') or {}
  lines = ''.join(f'<li>{_e(role)}: <code>{_e(name)}</code></li>'
                  for role in ('sources', 'sinks') for name in lineage.get(role) or [])
  return (_table(['', 'role', 'kind', 'name'], rows)
          + '<p>Lineage (Beam lineage metrics):</p><ul>' + (lines or '<li>none reported</li>')
          + '</ul>')


def render_report(summary, title):
  """The report page (HTML text) of a summary."""
  generated = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')
  state = summary.get('final_state') or ('running' if 'messages_read' in summary else 'done')
  notes = ''.join(f'<li>{_e(n)}</li>' for n in summary.get('report_notes') or [])
  sections = [('Counting invariant', _invariant(summary)),
              ('Alerts', _alerts(summary)),
              ('Per window: volume, quality, freshness', _windows(summary)),
              ('Rows and dead letters per stage', _stages(summary)),
              ('Dead letters by errorType', _dead_letters(summary)),
              ('Sources, sinks and lineage', _io(summary))]
  body = ''.join(f'<section><h2>{_e(h)}</h2>{content}</section>' for h, content in sections)
  return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}'
          f'</title><style>{_CSS}</style></head><body><h1>{_e(title)}</h1>'
          f'<p class="meta">generated {generated}; state {_e(state)}</p>{body}'
          + (f'<h2>Notes</h2><ul>{notes}</ul>' if notes else '') + '</body></html>')


def write_report(summary, path, title):
  """Writes the report page (local path, folders created, written whole then renamed; or
  a ``scheme://`` path through Beam's filesystems)."""
  data = render_report(summary, title).encode('utf-8')
  if '://' in path:
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.create(path) as f:
      f.write(data)
    return
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  partial = f'{path}.partial'
  with open(partial, 'wb') as f:
    f.write(data)
  os.replace(partial, path)
