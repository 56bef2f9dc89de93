"""Brings each template's metadata.json in line with its pipeline's options, and writes each
template's README.md from its metadata.json.

    python templates/update_metadata.py            # rewrite metadata.json and README.md files
    python templates/update_metadata.py --check    # exit 1 if any file would change

Every parameter's helpText is the option's help text (the options classes are the single
source: ``--help`` shows the same text). Other fields of existing entries are kept as
written (labels and regexes are edited by hand); parameters for new options are added with a
paramType, regexes and enum values inferred from the name and help text; entries for options
that no longer exist are removed. Review the result: inference is a starting point.
The test tests/templates/test_templates.py checks metadata and options in both directions,
and that each helpText is the option's help.

``templates/<name>/README.md`` is generated for every template folder with a metadata.json:
name, description, a table of every parameter (required or optional, type, help text, the
option's default where it has one) and how to launch it locally and on Dataflow. Do not edit
it by hand.
"""

import argparse
import importlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

TABLE_REGEX = (r'^([a-z][a-z0-9.\-]*[a-z0-9]:)?[a-z][a-z0-9\-]{4,28}[a-z0-9][:.]'
               r'[A-Za-z0-9_]{1,1024}\.[\w\-$ ]{1,1024}$')
TOPIC_REGEX = r'^projects/[^/]+/topics/[^/]{3,255}$'
SUBSCRIPTION_REGEX = r'^projects/[^/]+/subscriptions/[^/]{3,255}$'
DURATION_REGEX = r'^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)?$'
NUMBER_REGEX = r'^[0-9]+$'
BOOLEAN_REGEX = '^(true|false)$'
PATH_REGEX = r'^\S+$'
READ_FILES = {'input', 'schema', 'masking_policy', 'erase_list', 'enrichment_source'}
WRITE_FOLDERS = {'output_path', 'dead_letter_path', 'replay_to_path'}
DURATIONS = {'window_size', 'window_period', 'session_gap', 'allowed_lateness', 'merge_interval',
             'early_firing_after', 'dedupe_window', 'pubsub_pull_timeout', 'pubsub_pull_grace'}
EXTRA_ENUMS = {'dead_letter_payload': ['mask', 'redact', 'drop'],
               'fail_on_alert': ['false', 'any', 'true', 'critical']}


def pipeline_actions(template):
  """The argparse actions of the template's pipeline: its OPTIONS_CLASSES, then the flags
  it reads from other classes (EXTRA_FLAGS: {name: its meaning in this pipeline})."""
  module = importlib.import_module(f'beam_pipelines.{template}')
  parser = argparse.ArgumentParser()
  for cls in module.OPTIONS_CLASSES:
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  for name, help_text in getattr(module, 'EXTRA_FLAGS', {}).items():
    parser.add_argument(f'--{name}', default=None, help=help_text)
  return [a for a in parser._actions if a.dest != 'help']  # pylint: disable=protected-access


def template_names():
  return sorted(d for d in os.listdir(HERE)
                if os.path.isfile(os.path.join(HERE, d, 'metadata.json')))


def infer(action):
  name, help_text = action.dest, (action.help or '').strip()
  entry = {'name': name, 'label': name.replace('_', ' ').capitalize(),
           'helpText': help_text or name, 'isOptional': True}
  default = '' if action.default is None else str(action.default)
  choices = action.choices or EXTRA_ENUMS.get(name)
  if not choices:
    match = re.search(r'\b([\w]+(?:\|[\w]+)+)\b', help_text)
    if match and match.group(1) != 'true|false':
      choices = match.group(1).split('|')
  if default in ('true', 'false') and name not in EXTRA_ENUMS:
    entry.update(paramType='BOOLEAN', regexes=[BOOLEAN_REGEX])
  elif choices:
    entry.update(paramType='ENUM', enumOptions=[{'value': c, 'label': c} for c in choices])
  elif name.endswith('_table'):
    entry.update(paramType='BIGQUERY_TABLE', regexes=[TABLE_REGEX])
  elif name.endswith('_topic'):
    entry.update(paramType='PUBSUB_TOPIC', regexes=[TOPIC_REGEX])
  elif name.endswith('_subscription'):
    entry.update(paramType='PUBSUB_SUBSCRIPTION', regexes=[SUBSCRIPTION_REGEX])
  elif name in DURATIONS:
    entry.update(paramType='TEXT', regexes=[DURATION_REGEX])
  elif name in READ_FILES:
    entry.update(paramType='GCS_READ_FILE', regexes=[PATH_REGEX])
  elif name in WRITE_FOLDERS:
    entry.update(paramType='GCS_WRITE_FOLDER', regexes=[PATH_REGEX])
  elif default.isdigit():
    entry.update(paramType='NUMBER', regexes=[NUMBER_REGEX])
  else:
    entry['paramType'] = 'TEXT'
  return entry


def updated(template):
  path = os.path.join(HERE, template, 'metadata.json')
  with open(path, encoding='utf-8') as f:
    metadata = json.load(f)
  existing = {p['name']: p for p in metadata['parameters']}
  parameters = []
  for action in pipeline_actions(template):
    entry = existing.get(action.dest) or infer(action)
    entry['helpText'] = (action.help or '').strip() or action.dest
    parameters.append(entry)
  metadata['parameters'] = parameters
  return path, metadata


# Where each pipeline's options are documented (relative to the repository root).
DOCS = {
    'files_to_bigquery': 'docs/pipelines.md#the-flagship-pipeline-files_to_bigquery',
    'pubsub_to_bigquery': 'docs/pipelines.md#streaming-pubsub_to_bigquery',
    'replay_dead_letters': 'docs/dead_letters.md#replaying-dead-letters',
    'cdc_to_bigquery': 'docs/cdc.md',
}


def option_defaults(template):
  """{option: default text} for the pipeline's options that have a default."""
  defaults = {}
  for action in pipeline_actions(template):
    if action.default is not None and action.default is not argparse.SUPPRESS:
      defaults[action.dest] = str(action.default)
  return defaults


def _cell(text):
  """Text for a Markdown table cell: one line, with the characters Markdown would eat escaped."""
  text = ' '.join(str(text).split())
  for char in ('\\', '|', '*', '<', '>', '[', ']'):
    text = text.replace(char, '\\' + char)
  return text


def _type(param):
  kind = param.get('paramType', 'TEXT')
  if kind == 'ENUM':
    return 'ENUM: ' + ', '.join(f'`{o["value"]}`' for o in param.get('enumOptions', []))
  return kind


def _default(name, defaults):
  if name not in defaults:
    return ''
  if defaults[name] == '':
    return '(empty)'
  return '`' + defaults[name].replace('|', '\\|') + '`'


def readme_text(template):
  """templates/<template>/README.md, generated from its metadata.json."""
  with open(os.path.join(HERE, template, 'metadata.json'), encoding='utf-8') as f:
    metadata = json.load(f)
  defaults = option_defaults(template)
  docs = DOCS.get(template, 'docs/pipelines.md')
  params = metadata['parameters']
  required = [p['name'] for p in params if not p.get('isOptional', False)]
  lines = [
      f'# {metadata["name"]} (Flex Template)',
      '',
      '<!-- Generated from metadata.json by templates/update_metadata.py: do not edit by hand. -->',
      '',
      ' '.join(metadata['description'].split()),
      '',
      f'The pipeline is `python -m beam_pipelines.{template}`; its options are documented in',
      f'[{docs.split("#")[0]}](../../{docs}). Building, launching, IAM and other runners:',
      '[docs/templates.md](../../docs/templates.md).',
      '',
      '## Parameters',
      '',
      f'{len(params)} parameters, {len(required)} required'
      + (f' ({", ".join(f"`{n}`" for n in required)})' if required else '')
      + '. A default is the pipeline option\'s own; an empty default means unset (the help',
      'text says what happens then).',
      '',
      '| parameter | required | type | help | default |',
      '|---|---|---|---|---|',
  ]
  for p in params:
    lines.append(f'| `{p["name"]}` | {"optional" if p.get("isOptional") else "**required**"} | '
                 f'{_type(p)} | {_cell(p.get("helpText", ""))} | '
                 f'{_default(p["name"], defaults)} |')
  streaming = any(p['name'] in ('input_subscription', 'input_topic') for p in params)
  lines += [
      '',
      '## Launch',
      '',
      'Here, against the local emulators, with the sample parameters'
      + (' (the Pub/Sub emulator gets a topic and subscription and the sample events; the run'
         ' stops after `--duration` seconds, default 30):' if streaming else ':'),
      '',
      '```bash',
      f'make template-local TEMPLATE={template}',
      f'python -m beam_pipelines.tools.launch {template} --local --with_emulators \\',
      f'    --parameters_file templates/{template}/sample_parameters.json',
      '```',
      '',
      'On Dataflow (parameters are validated against metadata.json first; every problem is',
      'listed, exit code 2):',
      '',
      '```bash',
      f'make template-build TEMPLATE={template} PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket',
      f'make template-launch TEMPLATE={template} PROJECT=my-project REGION=europe-west1 BUCKET=my-bucket PARAMS=my_params.json',
      f'python -m beam_pipelines.tools.launch {template} --dataflow --project my-project \\',
      f'    --region europe-west1 --template_spec gs://my-bucket/templates/{template}.json \\',
      '    --parameters_file my_params.json',
      '```',
      '',
  ]
  return '\n'.join(lines)


def _sync(path, text, check, stale):
  current = None
  if os.path.exists(path):
    with open(path, encoding='utf-8') as f:
      current = f.read()
  if text != current:
    stale.append(os.path.relpath(path, os.path.dirname(HERE)))
    if not check:
      with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def main(argv=None):
  check = '--check' in (sys.argv[1:] if argv is None else argv)
  stale = []
  for template in template_names():
    path, metadata = updated(template)
    _sync(path, json.dumps(metadata, indent=2, ensure_ascii=False) + '\n', check, stale)
  for template in template_names():
    _sync(os.path.join(HERE, template, 'README.md'), readme_text(template), check, stale)
  if check and stale:
    print('out of date (run python templates/update_metadata.py): ' + ', '.join(stale))
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
