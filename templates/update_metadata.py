"""Brings each template's metadata.json in line with its pipeline's options.

    python templates/update_metadata.py            # rewrite metadata.json files
    python templates/update_metadata.py --check    # exit 1 if any file would change

Existing parameter entries are kept as written (labels, help texts and regexes are edited by
hand); parameters for new options are added from the option's argparse help with a
paramType, regexes and enum values inferred from the name and help text; entries for options
that no longer exist are removed. Review the result: inference is a starting point.
The test tests/templates/test_templates.py checks metadata and options in both directions.
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
EXTRA_ENUMS = {'dead_letter_payload': ['mask', 'redact', 'drop']}


def pipeline_actions(template):
  module = importlib.import_module(f'beam_pipelines.{template}')
  parser = argparse.ArgumentParser()
  for cls in module.OPTIONS_CLASSES:
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  return [a for a in parser._actions if a.dest != 'help']  # pylint: disable=protected-access


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
  if default in ('true', 'false'):
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
  metadata['parameters'] = [existing.get(a.dest) or infer(a)
                            for a in pipeline_actions(template)]
  return path, metadata


def main(argv=None):
  check = '--check' in (argv or sys.argv[1:])
  stale = []
  for template in ('files_to_bigquery', 'pubsub_to_bigquery', 'cdc_to_bigquery'):
    path, metadata = updated(template)
    text = json.dumps(metadata, indent=2, ensure_ascii=False) + '\n'
    with open(path, encoding='utf-8') as f:
      current = f.read()
    if text != current:
      stale.append(path)
      if not check:
        with open(path, 'w', encoding='utf-8') as f:
          f.write(text)
  if check and stale:
    print('out of date: ' + ', '.join(stale))
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
