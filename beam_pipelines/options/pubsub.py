"""Pub/Sub input options of ``pubsub_to_bigquery`` and their typed config, ``PubSubSourceConfig``
(subscription or topic, id and timestamp attributes, de-duplication, DirectRunner pulls).

Beam registers only *direct* subclasses of PipelineOptions with its parser, so each options
class of the suite subclasses it directly and defines each flag exactly once.
"""

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from beam_pipelines.options.values import ConfigError, convert, duration_option
from beam_pipelines.transforms.read.pubsub import DEDUPE_MODES, PubSubSourceConfig


class PubSubToBigQueryOptions(PipelineOptions):
  """Options of ``pubsub_to_bigquery`` (besides CommonOptions and WindowingOptions)."""
  HELP_TITLE = 'Pub/Sub input and de-duplication'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--input_subscription', default=None,
                        help='Pub/Sub subscription to read, projects/P/subscriptions/S. Give this '
                             'or input_topic.')
    parser.add_argument('--input_topic', default=None,
                        help='Pub/Sub topic to read through a temporary subscription, '
                             'projects/P/topics/T. Give this or input_subscription.')
    parser.add_argument('--id_attribute', default=None,
                        help='Attribute identifying a message, for de-duplication.')
    parser.add_argument('--timestamp_attribute', default=None,
                        help='Attribute holding the event time (RFC 3339 or epoch millis).')
    parser.add_argument('--dedupe', default='auto',
                        help=f'De-duplication: {"|".join(DEDUPE_MODES)} (auto: native id_label '
                             'on Dataflow, an in-pipeline stateful step elsewhere).')
    parser.add_argument('--dedupe_window', default='10m',
                        help='How long the in-pipeline de-dup step remembers an id.')
    parser.add_argument('--dedupe_shards', default='auto',
                        help='Keys the in-pipeline de-dup step spreads the ids over. auto: 2 on '
                             'the local DirectRunner (fewer bundles), 16 elsewhere.')
    parser.add_argument('--pubsub_pull_timeout', default='1s',
                        help='DirectRunner only: how long an idle pull waits (Beam: 30s).')
    parser.add_argument('--pubsub_pull_grace', default='90s',
                        help='DirectRunner only: how long pulls may keep failing (subscription '
                             'not found, Pub/Sub unreachable) before the run fails.')


def pubsub_source_config(options):
  """PubSubToBigQueryOptions -> PubSubSourceConfig (raises ConfigError)."""
  opts = options.view_as(PubSubToBigQueryOptions)
  if bool(opts.input_subscription) == bool(opts.input_topic):
    raise ConfigError('exactly one of --input_subscription and --input_topic is required')
  name = 'input_subscription' if opts.input_subscription else 'input_topic'
  runner = str(options.view_as(StandardOptions).runner or '').rsplit('.', 1)[-1]
  if runner in _NO_PUBSUB_RUNNERS:
    # Seen with Beam 2.77: the run ends at once, DONE, having read nothing.
    raise ConfigError(f'--runner: the {runner} cannot read Pub/Sub (the read ends at once, '
                      'reading nothing); use BundleBasedDirectRunner locally, or '
                      'DataflowRunner')
  grace = duration_option(opts.pubsub_pull_grace, 'pubsub_pull_grace')
  if grace is not None and grace <= 0:
    raise ConfigError(f'--pubsub_pull_grace: must be more than 0, got {opts.pubsub_pull_grace!r}')
  try:
    return _pubsub_source(opts, name, grace)
  except ConfigError as e:
    # Name the option that holds the bad value, not the input option: PubSubSourceConfig's
    # message starts with its field's name.
    field = str(e).split(': ', 1)[-1].split(' ', 1)[0]
    option = _SOURCE_FIELD_OPTIONS.get(field)
    if option is None or option == name:
      raise
    raise ConfigError(f'--{option}: {str(e).split(": ", 1)[-1]}') from None


_NO_PUBSUB_RUNNERS = ('FnApiRunner',)
_SOURCE_FIELD_OPTIONS = {
    'subscription': 'input_subscription', 'topic': 'input_topic', 'dedupe': 'dedupe',
    'dedupe_seconds': 'dedupe_window', 'dedupe_shards': 'dedupe_shards',
    'direct_runner_pull_timeout': 'pubsub_pull_timeout',
    'direct_runner_pull_grace': 'pubsub_pull_grace', 'id_attribute': 'id_attribute',
    'timestamp_attribute': 'timestamp_attribute'}


def _shards_option(value, name):
  """'auto' -> None (by runner); else a positive whole number (ConfigError naming --name)."""
  text = str(value).strip().lower()
  if text == 'auto':
    return None
  if not text.isdigit() or int(text) < 1:
    raise ConfigError(f'--{name}: expected auto or a positive whole number, got {value!r}')
  return int(text)


def _pubsub_source(opts, name, grace):
  return convert(name, PubSubSourceConfig,
                  subscription=opts.input_subscription or None,
                  topic=opts.input_topic or None,
                  id_attribute=opts.id_attribute or None,
                  timestamp_attribute=opts.timestamp_attribute or None,
                  dedupe=opts.dedupe,
                  dedupe_seconds=duration_option(opts.dedupe_window, 'dedupe_window'),
                  dedupe_shards=_shards_option(opts.dedupe_shards, 'dedupe_shards'),
                  direct_runner_pull_timeout=duration_option(opts.pubsub_pull_timeout,
                                                              'pubsub_pull_timeout'),
                  # An empty option keeps the config's default.
                  **({} if grace is None else {'direct_runner_pull_grace': grace}))
