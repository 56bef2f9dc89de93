"""The end of a run (and each periodic rewrite of a streaming one): the report data read
back, the report page, the console summary, the summary JSON, and ``--fail_on_alert``."""

import logging
import sys

from beam_pipelines.runtime.console import format_short, format_summary
from beam_pipelines.runtime.report import write_report
from beam_pipelines.runtime.report_data import add_report_data
from beam_pipelines.runtime.summary import write_summary

_LOG = logging.getLogger(__name__)
# Exit code of a run failed by --fail_on_alert (2 is a bad option, 1 a failed pipeline).
ALERT_EXIT_CODE = 3


def _wants_report_data(summary, cfg):
  alerts = summary.get('alerts') or {}
  return 'counters' in summary and (cfg.monitoring.report_path or alerts.get('raised'))


def complete_summary(summary, cfg, started):
  """Adds what the report shows (``report_data``) when a report is asked for or alerts
  were raised (the console lists them), and the report's path."""
  if _wants_report_data(summary, cfg):
    add_report_data(summary, cfg, started)
  if cfg.monitoring.report_path:
    summary['report_path'] = cfg.monitoring.report_path
  return summary


def write_outputs(summary, cfg, title):
  """The report page and the summary JSON, where configured."""
  if cfg.monitoring.report_path:
    try:
      write_report(summary, cfg.monitoring.report_path, title)
    except Exception as e:  # pylint: disable=broad-except
      _LOG.error('run report not written to %s: %s', cfg.monitoring.report_path, e)
  if cfg.quality.summary_path:
    write_summary(summary, cfg.quality.summary_path)


def console_text(summary, cfg, title):
  if cfg.monitoring.verbose:
    return format_summary(summary, title)
  return format_short(summary, title)


def close_run(summary, cfg, started, title, print_summary=True):
  """Completes the summary, writes the report and the JSON, prints the console summary."""
  complete_summary(summary, cfg, started)
  write_outputs(summary, cfg, title)
  if print_summary:
    print(console_text(summary, cfg, title))
  return summary


def alert_failure(summary, cfg):
  """The one-line reason to fail the run under ``--fail_on_alert``, or None."""
  mode = cfg.monitoring.fail_on_alert
  alerts = summary.get('alerts') or {}
  count = alerts.get('critical', 0) if mode == 'critical' else alerts.get('raised', 0)
  if not mode or not count:
    return None
  rules = sorted({a['rule'] for a in alerts.get('list') or []
                  if mode != 'critical' or a['severity'] == 'critical'})
  which = 'critical alert(s)' if mode == 'critical' else 'alert(s)'
  return (f'{count} {which} raised (--fail_on_alert {mode})'
          + (f': {", ".join(rules)}' if rules else ''))


def fail_on_alert(summary, cfg, prog):
  """Exits with ALERT_EXIT_CODE, one line on stderr, when ``alert_failure`` says so."""
  reason = alert_failure(summary, cfg)
  if reason is not None:
    print(f'{prog}: failing the run: {reason}', file=sys.stderr)
    raise SystemExit(ALERT_EXIT_CODE)
