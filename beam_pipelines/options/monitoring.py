"""Alert and run-report options and their typed config, ``MonitoringRunConfig``.

    --alert_table P:D.T            alerts of the SLA rules (default <output_table>_alerts;
                                   with --output_path: JSONL files <output_path>_alerts)
    --alert_topic projects/P/topics/T   also publish each alert to Pub/Sub
    --alert_webhook https://...    also POST each alert (JSON) to a webhook
    --alert_delivery_attempts 5    tries per alert and channel (retried with backoff)
    --fail_on_alert [critical]     batch: exit non-zero when the run raised an alert
    --report_path report.html      the run report: one self-contained HTML page
    --verbose                      print every counter in the console summary

The SLA rules themselves are in the ``--quality_rules`` file (``slas``); the steps are wired
by ``beam_pipelines.chain_steps.monitor``; docs/monitoring.md describes it all.
"""

from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.common import retry_budget_of, side_table_write_method
from beam_pipelines.options.quality import check_summary_path
from beam_pipelines.options.values import ConfigError, convert, parse_bool
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.monitoring import AlertDeliveryConfig, AlertLinks
from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig

ALERT_TABLE_SUFFIX = '_alerts'
FAIL_ON_ALERT = ('false', 'any', 'true', 'critical')


class MonitoringOptions(PipelineOptions):
  """``--alert_*``, ``--fail_on_alert``, ``--report_path``, ``--verbose``."""
  HELP_TITLE = 'Alerts and the run report'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--alert_table', default=None,
                        help='BigQuery table for the alerts of the SLA rules (slas in '
                             'quality_rules). Defaults to <output_table>_alerts.')
    parser.add_argument('--alert_topic', default=None,
                        help='Also publish every alert as JSON to this Pub/Sub topic, '
                             'projects/P/topics/T.')
    parser.add_argument('--alert_webhook', default=None,
                        help='Also POST every alert as JSON to this http(s) URL (a chat or '
                             'paging webhook).')
    parser.add_argument('--alert_delivery_attempts', default='5',
                        help='Tries per alert for the topic and the webhook, with exponential '
                             'backoff; an alert still failing is logged and counted, never '
                             'fatal.')
    parser.add_argument('--fail_on_alert', nargs='?', const='any', default='false',
                        help='Batch: exit with code 3 after the run when it raised an alert '
                             '(any, the default when given without a value) or a critical '
                             'one (critical); false: never.')
    parser.add_argument('--report_path', default=None,
                        help='Write the run report, one self-contained HTML page (charts '
                             'embedded), e.g. reports/run.html. Streaming: rewritten every '
                             'summary_interval_seconds.')
    parser.add_argument('--verbose', nargs='?', const='true', default='false',
                        help='Print every counter in the console summary (true|false; '
                             'given without a value: true).')


@dataclass(frozen=True)
class MonitoringRunConfig:
  """Alerts and report settings of one run, validated."""
  alert_sink: Optional[BigQuerySinkConfig] = None   # the alerts table
  alert_path: Optional[str] = None                  # or JSONL files (lake runs)
  delivery: Optional[AlertDeliveryConfig] = None    # Pub/Sub topic and/or webhook
  links: AlertLinks = AlertLinks()
  fail_on_alert: Optional[str] = None               # None, 'any' or 'critical'
  report_path: Optional[str] = None
  verbose: bool = False

  @property
  def alerts_destination(self):
    return self.alert_sink.table if self.alert_sink is not None else self.alert_path


def _fail_on(text, streaming):
  value = str(text).strip().lower()
  if value not in FAIL_ON_ALERT:
    raise ConfigError(f'--fail_on_alert must be one of {"|".join(FAIL_ON_ALERT)}, got {text!r}')
  if value == 'false':
    return None
  if streaming:
    raise ConfigError('--fail_on_alert is for batch runs: a streaming job keeps running and '
                      'delivers its alerts (--alert_topic, --alert_webhook)')
  return 'critical' if value == 'critical' else 'any'


def _check_report_path(path):
  check_summary_path(path)
  try:
    import matplotlib  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
  except ImportError:
    raise ValueError("the run report draws its charts with matplotlib: pip install "
                     "'beam-pipelines[report]'") from None
  return path


def monitoring_config(options, quality, output_table=None, output_path=None,
                      write_method='STREAMING_INSERTS', temp_location=None, streaming=False,
                      dead_letter_table=None):
  """MonitoringOptions -> MonitoringRunConfig (raises ConfigError naming the option).

  ``quality`` is the run's QualityRunConfig: alerts need SLA rules in its rules file; the
  alerts link back to its table and to ``dead_letter_table``."""
  opts = options.view_as(MonitoringOptions)
  slas = quality.rules.slas if quality.rules is not None else ()
  if not slas:
    for name in ('alert_table', 'alert_topic', 'alert_webhook'):
      if getattr(opts, name):
        raise ConfigError(f'--{name} needs SLA rules: add slas to the --quality_rules file '
                          '(docs/monitoring.md)')
  fail_on = _fail_on(opts.fail_on_alert, streaming)
  if fail_on and not slas:
    raise ConfigError('--fail_on_alert needs SLA rules: add slas to the --quality_rules file')
  attempts = convert('alert_delivery_attempts', int, opts.alert_delivery_attempts)
  convert('alert_delivery_attempts', AlertDeliveryConfig, attempts=attempts)
  delivery = None
  if opts.alert_topic or opts.alert_webhook:
    convert('alert_topic', AlertDeliveryConfig, topic=opts.alert_topic)
    convert('alert_webhook', AlertDeliveryConfig, webhook=opts.alert_webhook)
    delivery = AlertDeliveryConfig(topic=opts.alert_topic, webhook=opts.alert_webhook,
                                   attempts=attempts)
  alert_sink = alert_path = None
  if slas:
    if opts.alert_table:
      convert('alert_table', parse_table_spec, opts.alert_table, 'alert_table')
      table = opts.alert_table
    elif output_table:
      table = output_table + ALERT_TABLE_SUFFIX
    else:
      table = None
    if table:
      alert_sink = convert('alert_table', BigQuerySinkConfig, table=table,
                           write_method=side_table_write_method(write_method),
                           temp_location=temp_location,
                           retry_budget_seconds=retry_budget_of(options))
    else:
      alert_path = output_path.rstrip('/') + ALERT_TABLE_SUFFIX
  if opts.report_path:
    convert('report_path', _check_report_path, opts.report_path)
  return MonitoringRunConfig(
      alert_sink=alert_sink, alert_path=alert_path, delivery=delivery,
      links=AlertLinks(quality.scores_destination, dead_letter_table),
      fail_on_alert=fail_on, report_path=opts.report_path,
      verbose=convert('verbose', parse_bool, opts.verbose))
