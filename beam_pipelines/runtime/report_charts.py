"""The run report's charts: static SVG drawn by matplotlib, inlined in the page.

Why matplotlib: it is the best-kept Python plotting library, draws static SVG with no
JavaScript and no network (the page opens anywhere, prints, and its numbers are in the DOM
as ``<text>``: ``svg.fonttype`` none), and it needs no browser engine at render time.
Figures are made with ``matplotlib.figure.Figure`` (no pyplot: no global state, safe from
the periodic-summary thread of a streaming run); ids are salted so the same data gives the
same SVG.
"""

import datetime
import io

COLORS = {'rows': '#4C78A8', 'dead': '#E45756', 'alert': '#F58518',
          'completeness': '#4C78A8', 'validity': '#54A24B', 'uniqueness': '#B279A2',
          'freshness': '#F58518', 'p50': '#72B7B2', 'p95': '#4C78A8', 'max': '#E45756'}
_RC = {'svg.fonttype': 'none', 'svg.hashsalt': 'beam-pipelines-report', 'font.size': 9}


def _figure(width=7.5, height=2.6):
  from matplotlib.figure import Figure
  fig = Figure(figsize=(width, height), layout='constrained')
  return fig, fig.add_subplot()


def _svg(fig):
  import matplotlib
  out = io.StringIO()
  with matplotlib.rc_context(_RC):
    fig.savefig(out, format='svg', metadata={'Date': None})
  text = out.getvalue()
  return text[text.index('<svg'):]  # inline: no XML prolog or doctype


def _when(text):
  if not text:
    return None
  return datetime.datetime.fromisoformat(str(text).replace('Z', '+00:00'))


def _x(windows):
  """x positions: window starts as datetimes, or 'run' for a run without windows."""
  starts = [_when(w.get('window_start')) for w in windows]
  return starts if all(starts) else [str(i) if s is None else s.strftime('%H:%M')
                                     for i, s in enumerate(starts)]


def _bar_width(xs):
  if len(xs) > 1 and isinstance(xs[0], datetime.datetime):
    return (min(b - a for a, b in zip(xs, xs[1:], strict=False) if b > a) or datetime.timedelta(1)) * 0.8
  return 0.8


def _style(ax, title, ylabel):
  import matplotlib
  with matplotlib.rc_context(_RC):
    ax.set_title(title, loc='left', fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis='y', alpha=0.3)
    ax.spines[['top', 'right']].set_visible(False)


def volume_chart(windows, alerts):
  """Rows and dead letters per window; windows with an alert are marked."""
  fig, ax = _figure()
  xs = _x(windows)
  written = [(w.get('rows') or 0) - (w.get('dead_lettered') or 0) for w in windows]
  width = _bar_width(xs)
  ax.bar(xs, written, width=width, color=COLORS['rows'], label='rows written')
  ax.bar(xs, [w.get('dead_lettered') or 0 for w in windows], width=width, bottom=written,
         color=COLORS['dead'], label='dead-lettered by quality rules')
  alerted = {a.get('window_start') for a in alerts or () if a.get('window_start')}
  for x, w in zip(xs, windows, strict=True):
    if w.get('window_start') in alerted:
      ax.axvline(x, color=COLORS['alert'], linestyle='--', linewidth=1)
  if alerted:
    ax.plot([], [], color=COLORS['alert'], linestyle='--', label='window with an alert')
  ax.set_ylim(0, max([w.get('rows') or 0 for w in windows] + [1]) * 1.35)
  ax.legend(loc='upper left', fontsize=8, frameon=False, ncols=3)
  _style(ax, 'Volume per window', 'rows')
  return _svg(fig)


def scores_chart(windows):
  """The four quality scores per window."""
  fig, ax = _figure()
  xs = _x(windows)
  for score in ('completeness', 'validity', 'uniqueness', 'freshness'):
    ys = [w.get(score) for w in windows]
    if any(y is not None for y in ys):
      ax.plot(xs, [float('nan') if y is None else y for y in ys], marker='o', markersize=3,
              color=COLORS[score], label=score)
  ax.set_ylim(-0.02, 1.25)
  ax.legend(loc='upper left', fontsize=8, frameon=False, ncols=4)
  _style(ax, 'Quality scores per window', 'score')
  return _svg(fig)


def freshness_chart(windows):
  """Lag p50/p95/max and the newest event's age per window (seconds, log scale)."""
  fig, ax = _figure()
  xs = _x(windows)
  plotted = False
  for key, label, color in (('lag_p50_seconds', 'lag p50', COLORS['p50']),
                            ('lag_p95_seconds', 'lag p95', COLORS['p95']),
                            ('lag_max_seconds', 'lag max', COLORS['max']),
                            ('newest_event_age_seconds', 'newest event age', '#888888')):
    ys = [w.get(key) for w in windows]
    if any(y is not None for y in ys):
      plotted = True
      ax.plot(xs, [float('nan') if y is None else max(y, 0.001) for y in ys], marker='o',
              markersize=3, color=color, label=label,
              linestyle=':' if key.startswith('newest') else '-')
  if plotted:
    ax.set_yscale('log')
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * (high / low) ** 0.35)  # room for the legend above the lines
    ax.legend(loc='upper left', fontsize=8, frameon=False, ncols=4)
  _style(ax, 'Freshness per window (processing time - event time)', 'seconds')
  return _svg(fig)


def bars_chart(title, items, color, xlabel):
  """A horizontal bar chart of (label, value) pairs, the values written at the bars."""
  fig, ax = _figure(height=0.35 * max(len(items), 2) + 0.9)
  labels = [label for label, _ in items][::-1]
  values = [value for _, value in items][::-1]
  bars = ax.barh(labels, values, color=color)
  ax.bar_label(bars, labels=[str(v) for v in values], padding=3, fontsize=8)
  ax.set_xlabel(xlabel)
  ax.margins(x=0.15)
  _style(ax, title, '')
  ax.grid(axis='x', alpha=0.3)
  ax.grid(axis='y', visible=False)
  return _svg(fig)
