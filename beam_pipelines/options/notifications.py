"""Continuous ingestion options of ``files_to_bigquery`` and their typed config,
``FileNotificationConfig``: file notifications from Pub/Sub, one commit per window.

    --input_notifications projects/P/subscriptions/S   streaming: load the files it names
    --commit_interval 1m                                one commit per window of this length

The steps they configure (``ReadFileNotifications``, ``CommitWindows``) are wired by
``beam_pipelines.chain_loads``; ``beam_pipelines.runtime.notified`` runs the streaming job.
"""

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from beam_pipelines.options.values import ConfigError, convert, duration_option
from beam_pipelines.transforms.loads.notifications import FileNotificationConfig

DEFAULT_COMMIT_INTERVAL = '1m'
_NO_PUBSUB_RUNNERS = ('FnApiRunner',)


class FileNotificationOptions(PipelineOptions):
  """Streaming file ingestion: Cloud Storage notifications name the files to load."""
  HELP_TITLE = 'Continuous ingestion (file notifications)'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--input_notifications', default=None,
                        help='Streaming: a Pub/Sub subscription, projects/P/subscriptions/S, '
                             'receiving Cloud Storage notifications of the input bucket '
                             '(JSON_API_V1 or NONE payloads): each new object (OBJECT_FINALIZE) '
                             'that --input matches is loaded exactly once across restarts (the '
                             'manifest decides; files --input matches at start and the manifest '
                             'lacks are loaded too). Needs --load_mode incremental and '
                             '--output_table. Runs until cancelled (Ctrl-C, SIGTERM, '
                             '--duration). Locally with --watch_interval, this process polls '
                             '--input and publishes the notifications itself.')
    parser.add_argument('--commit_interval', default=DEFAULT_COMMIT_INTERVAL,
                        help='With --input_notifications: rows, dead letters and manifest '
                             'entries of the files that arrived in each window of this length '
                             '(30s, 5m) are committed in one transaction.')


def notification_config(options, pattern):
  """``--input_notifications`` -> FileNotificationConfig for ``pattern`` (``--input``), or
  None when not given (raises ConfigError naming the option)."""
  opts = options.view_as(FileNotificationOptions)
  if not opts.input_notifications:
    return None
  runner = str(options.view_as(StandardOptions).runner or '').rsplit('.', 1)[-1]
  if runner in _NO_PUBSUB_RUNNERS:
    raise ConfigError(f'--runner: the {runner} cannot read Pub/Sub; --input_notifications '
                      'runs on the BundleBasedDirectRunner locally, or DataflowRunner')
  interval = duration_option(opts.commit_interval, 'commit_interval')
  if interval is None or interval <= 0:
    raise ConfigError(f'--commit_interval: expected a duration > 0 like 30s or 5m, got '
                      f'{opts.commit_interval!r}')
  config = convert('input_notifications', FileNotificationConfig,
                   subscription=opts.input_notifications, pattern=pattern,
                   commit_interval_seconds=interval)
  return config


def check_notified_loads(loads, lake):
  """ConfigError unless the loads of a notified (streaming) run can commit per window."""
  if lake is not None:
    raise ConfigError('--input_notifications loads into BigQuery through the manifest '
                      'table; lake files (--output_path) cannot be loaded continuously')
  if loads.mode != 'incremental':
    raise ConfigError(f'--input_notifications needs --load_mode incremental (each file once); '
                      f'--load_mode {loads.mode} cannot be committed per window')
