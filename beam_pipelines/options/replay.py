"""Options of ``replay_dead_letters`` and their typed config, ``ReplayConfig``.

The dead letters are read from CommonOptions' ``--dead_letter_path`` (JSONL files) or
``--dead_letter_table`` (BigQuery); ``--error_type`` and ``--stage`` choose which; the
payloads go to ``--replay_to_path`` files or the ``--replay_to_topic`` topic.
"""

from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from beam_pipelines.options.common import CommonOptions
from beam_pipelines.options.values import ConfigError, convert, require
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.pubsub import check_topic

_GLOB_CHARS = set('*?[')


# The CommonOptions flags replay_dead_letters reads, with what they mean here (its --help and
# its template's metadata.json show these texts).
SHARED_FLAGS = {
    'dead_letter_path': 'Prefix or glob of JSONL dead-letter files to read (the prefix the '
                        'files dead-letter sink was given). Give this or dead_letter_table.',
    'dead_letter_table': 'BigQuery dead-letter table to read, PROJECT:DATASET.TABLE. Give '
                         'this or dead_letter_path.',
}


class ReplayOptions(PipelineOptions):
  """Options of ``replay_dead_letters``; the source is CommonOptions' ``--dead_letter_path``
  (files) or ``--dead_letter_table`` (BigQuery)."""
  HELP_TITLE = 'What to replay, and where to'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--error_type', default=None,
                        help="errorTypes to replay, comma-separated; an entry ending in ':' or "
                             "'*' is a prefix (type_mismatch:), '*' alone replays every dead "
                             "letter.")
    parser.add_argument('--stage', default=None,
                        help='Replay only dead letters of this stage (read, parse, validate, '
                             'mask, enrich, window, sink, user).')
    parser.add_argument('--replay_to_path', default=None,
                        help='Write the payloads, one per line, to files under this prefix (ready '
                             'as --input of files_to_bigquery). Give this or replay_to_topic.')
    parser.add_argument('--replay_suffix', default='.jsonl',
                        help='File name suffix with replay_to_path.')
    parser.add_argument('--replay_to_topic', default=None,
                        help='Publish the payloads with their original attributes to '
                             'projects/P/topics/T. Give this or replay_to_path.')


class ErrorTypeFilter:
  """Matches errorTypes: exact names, prefixes (``x:`` or ``x*``) or everything (``*``)."""

  def __init__(self, spec):
    entries = [e.strip() for e in str(spec or '').split(',') if e.strip()]
    if not entries:
      raise ValueError('expected one or more errorTypes (use * for all)')
    self.match_all = '*' in entries
    self.exact = frozenset(e for e in entries if not e.endswith((':', '*')))
    self.prefixes = tuple(e.rstrip('*') for e in entries if e.endswith((':', '*')) and e != '*')

  def __call__(self, error_type):
    if self.match_all:
      return True
    error_type = error_type or ''
    return error_type in self.exact or (bool(self.prefixes)
                                        and error_type.startswith(self.prefixes))


@dataclass(frozen=True)
class ReplayConfig:
  """What to replay, from where, to where."""
  path: Optional[str]             # dead-letter JSONL files (a glob), or
  table: Optional[str]            # a dead-letter table
  error_filter: ErrorTypeFilter
  stage: Optional[str]
  to_path: Optional[str]          # replay into files under this prefix, or
  to_topic: Optional[str]         # publish to this topic
  suffix: str = '.jsonl'
  project: Optional[str] = None


def replay_config(options):
  """ReplayOptions + CommonOptions -> ReplayConfig (raises ConfigError naming the option)."""
  common = options.view_as(CommonOptions)
  replay = options.view_as(ReplayOptions)
  path, table = common.dead_letter_path, common.dead_letter_table
  if bool(path) == bool(table):
    raise ConfigError('give exactly one of --dead_letter_path (JSONL files) and '
                           '--dead_letter_table (BigQuery) to read dead letters from')
  if table:
    convert('dead_letter_table', parse_table_spec, table, 'dead_letter_table')
  error_filter = convert('error_type', ErrorTypeFilter,
                               require(replay.error_type, 'error_type'))
  to_path, to_topic = replay.replay_to_path, replay.replay_to_topic
  if bool(to_path) == bool(to_topic):
    raise ConfigError('give exactly one of --replay_to_path and --replay_to_topic')
  if to_topic:
    convert('replay_to_topic', check_topic, to_topic, 'replay_to_topic')
  if path and not _GLOB_CHARS & set(path):
    path = path + '*'  # the prefix the files sink was given
  return ReplayConfig(path=path, table=table, error_filter=error_filter, stage=replay.stage,
                      to_path=to_path, suffix=replay.replay_suffix or '', to_topic=to_topic,
                      project=options.view_as(GoogleCloudOptions).project)
