"""``--help`` of every runnable pipeline: its own options grouped by concern (one group per
options class), each with its one-line meaning and its default, the flags it reads from
other classes, its run-control flags, and a pointer to Beam's options (``--help_beam``)."""

import argparse
import re

import pytest

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery, replay_dead_letters

PIPELINES = [files_to_bigquery, pubsub_to_bigquery, replay_dead_letters]


def _help(module, capsys, flag='--help'):
  with pytest.raises(SystemExit) as info:
    module.main([flag])
  assert info.value.code == 0
  return capsys.readouterr().out


def _sections(text):
  """{group title: its text} of an argparse help."""
  sections, title = {}, None
  for line in text.splitlines():
    if line and not line.startswith(' ') and line.endswith(':'):
      title = line[:-1]
      sections[title] = ''
    elif title is not None:
      sections[title] += line + '\n'
  return sections


def _flat(text):
  return ' '.join(text.split())


def _actions(cls):
  parser = argparse.ArgumentParser()
  cls._add_argparse_args(parser)  # pylint: disable=protected-access
  return [a for a in parser._actions if a.dest != 'help']  # pylint: disable=protected-access


@pytest.mark.parametrize('module', PIPELINES, ids=lambda m: m.__name__.rsplit('.', 1)[-1])
def test_help_lists_every_option_of_every_class_in_its_group(module, capsys):
  text = _help(module, capsys)
  assert text.startswith('usage: python -m ' + module.__name__)
  sections = _sections(text)
  seen = set()
  for cls in module.OPTIONS_CLASSES:
    assert cls.HELP_TITLE in sections, (cls.__name__, list(sections))
    section = _flat(sections[cls.HELP_TITLE])
    for action in _actions(cls):
      flag = action.option_strings[0]
      assert re.search(re.escape(flag) + r'\b', section), (cls.__name__, flag)
      assert _flat(action.help) in section, (flag, action.help)
      if action.default not in (None, ''):
        assert f'(default: {action.default})' in section, flag
      seen.add(flag)
  # every flag of OPTIONS_CLASSES, nothing left out
  every = {a.option_strings[0] for cls in module.OPTIONS_CLASSES for a in _actions(cls)}
  assert seen == every and len(every) >= 5


@pytest.mark.parametrize('module', PIPELINES, ids=lambda m: m.__name__.rsplit('.', 1)[-1])
def test_help_shows_shared_and_run_flags_and_points_at_beam(module, capsys):
  text = _help(module, capsys)
  sections = _sections(text)
  cli = module.CLI
  for name, meaning in cli.extra_flags.items():
    assert f'--{name}' in sections[cli.extra_title] and _flat(meaning) in _flat(
        sections[cli.extra_title])
  for name, _, meaning in cli.run_flags:
    assert f'--{name}' in sections['Running'] and _flat(meaning) in _flat(sections['Running'])
  assert '--help_beam' in text and 'https://beam.apache.org/' in text
  assert f'default here: {cli.runner}' in _flat(text)


def test_replay_reads_its_dead_letter_flags_with_their_replay_meaning(capsys):
  text = _flat(_help(replay_dead_letters, capsys))
  assert 'Prefix or glob of JSONL dead-letter files to read' in text
  assert 'File prefix for dead letters when dead_letter_sink is files' not in text


def test_help_beam_lists_beams_own_options(capsys):
  text = _help(files_to_bigquery, capsys, '--help_beam')
  for flag in ('--runner', '--project', '--temp_location', '--direct_num_workers',
               '--experiments', '--streaming'):
    assert re.search(r'^\s+(\S+ \S+, )?' + re.escape(flag) + r'\b', text, re.M), flag
  assert 'StandardOptions:' in text and 'GoogleCloudOptions:' in text
  assert '--input_format' not in text  # ours are in --help


def test_help_wins_over_bad_flags(capsys):
  with pytest.raises(SystemExit) as info:
    files_to_bigquery.run(['--no_such_flag', 'x', '--help'])
  assert info.value.code == 0
  assert '--input' in capsys.readouterr().out
