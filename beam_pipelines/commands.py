"""``beam-pipelines``: one console command for every runnable module of the package.

    beam-pipelines files-to-bigquery --input 'data/*.jsonl' --schema schema.json ...
    beam-pipelines launch files_to_bigquery --sample --local --with_emulators
    beam-pipelines emulators start|stop|status|prepare
    beam-pipelines COMMAND --help

Each command runs the same ``main(argv)`` as ``python -m <module>`` (the table below); the
command only picks the module and names itself in usage lines.
"""

import difflib
import importlib
import os
import sys

from beam_pipelines.runtime.prog import CONSOLE_PROG_ENV

# command -> (module whose main(argv) it runs, one line of what it does)
COMMANDS = {
    'files-to-bigquery': ('beam_pipelines.files_to_bigquery',
                          'files (JSONL, CSV, Avro, Parquet) -> BigQuery or lake files, batch'),
    'pubsub-to-bigquery': ('beam_pipelines.pubsub_to_bigquery',
                           'Pub/Sub -> BigQuery, streaming'),
    'replay-dead-letters': ('beam_pipelines.replay_dead_letters',
                            're-inject the payloads of chosen dead letters'),
    'forget': ('beam_pipelines.forget', "delete a subject's rows from BigQuery tables (GDPR)"),
    'launch': ('beam_pipelines.tools.launch',
               'validate a Flex Template\'s parameters, run it here or on Dataflow'),
    'emulators': ('beam_pipelines.tools.emulators',
                  'start|stop|status|prepare the local BigQuery and Pub/Sub emulators'),
    'samples': ('beam_pipelines.tools.samples',
                'copy the shipped samples, examples and template parameters into a folder'),
    'lake-files': ('beam_pipelines.tools.lake_files',
                   "the committed data files of a lake sink's runs (--output_path)"),
    'demo': ('beam_pipelines.tools.demo', 'files_to_bigquery on sample data, local BigQuery'),
    'streaming-demo': ('beam_pipelines.tools.streaming_demo',
                       'pubsub_to_bigquery on live sample events, local emulators'),
}


def overview():
  width = max(map(len, COMMANDS))
  lines = ['usage: beam-pipelines COMMAND [options]   (beam-pipelines COMMAND --help)', '',
           'Apache Beam pipelines into BigQuery, with validation, dead letters and GDPR '
           'masking.', '', 'commands:']
  lines += [f'  {name:<{width}}  {text}' for name, (_, text) in COMMANDS.items()]
  lines += ['', 'Each is also `python -m <module>`: '
            + ', '.join(m for m, _ in COMMANDS.values())]
  return '\n'.join(lines)


def main(argv=None):
  argv = list(sys.argv[1:] if argv is None else argv)
  if not argv or argv[0] in ('-h', '--help'):
    print(overview())
    return 0 if argv else 2
  if argv[0] == '--version':
    from importlib.metadata import version
    print(f'beam-pipelines {version("beam-pipelines")}')
    return 0
  name = argv[0].replace('_', '-')
  if name not in COMMANDS:
    hint = difflib.get_close_matches(name, COMMANDS, n=1)
    print(f'beam-pipelines: error: unknown command {argv[0]!r}'
          + (f' (did you mean {hint[0]}?)' if hint else '')
          + f'; commands: {", ".join(COMMANDS)}', file=sys.stderr)
    return 2
  # The command names itself 'beam-pipelines NAME' in its usage lines while it runs; the
  # variable is put back after, so a program calling main() twice (or a test) is unaffected.
  previous = os.environ.get(CONSOLE_PROG_ENV)
  os.environ[CONSOLE_PROG_ENV] = f'beam-pipelines {name}'
  try:
    module = importlib.import_module(COMMANDS[name][0])
    code = module.main(argv[1:])
  finally:
    if previous is None:
      os.environ.pop(CONSOLE_PROG_ENV, None)
    else:
      os.environ[CONSOLE_PROG_ENV] = previous
  return 0 if code is None else code
