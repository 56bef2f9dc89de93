"""The ``beam-pipelines`` command (same code as ``python -m``), the shipped resources, and the
tools' errors when the ``local`` extra is missing."""

import importlib
import json
import os
import subprocess
import sys

import pytest

from beam_pipelines import commands, resources
from beam_pipelines.runtime.prog import CONSOLE_PROG_ENV
from beam_pipelines.tools import demo, launch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def restore_prog(monkeypatch):
  # commands.main sets it for the module it runs: set-then-delete makes monkeypatch restore
  # the variable's absence after each test
  monkeypatch.setenv(CONSOLE_PROG_ENV, 'unset by the test')
  monkeypatch.delenv(CONSOLE_PROG_ENV)


def test_overview_lists_every_command(capsys):
  assert commands.main(['--help']) == 0
  out = capsys.readouterr().out
  for name, (module, _) in commands.COMMANDS.items():
    assert f'  {name} ' in out and module in out
  assert commands.main([]) == 2


def test_a_command_names_itself_while_it_runs_and_leaves_the_environment_as_it_was(
    capsys, tmp_path):
  """A program (or a test) calling main() for one command must not rename another's usage."""
  with pytest.raises(SystemExit):
    commands.main(['lake-files', '--help'])
  assert capsys.readouterr().out.startswith('usage: beam-pipelines lake-files')
  assert CONSOLE_PROG_ENV not in os.environ
  os.environ[CONSOLE_PROG_ENV] = 'my-wrapper'
  try:
    assert commands.main(['lake-files', str(tmp_path)]) == 0
    assert os.environ[CONSOLE_PROG_ENV] == 'my-wrapper'
  finally:
    del os.environ[CONSOLE_PROG_ENV]


def test_every_command_runs_its_modules_main():
  for module, _ in commands.COMMANDS.values():
    assert callable(importlib.import_module(module).main), module


def test_unknown_command_suggests_the_closest(capsys):
  assert commands.main(['files-to-bigqury', '--input', 'x']) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "unknown command 'files-to-bigqury'" in err[0]
  assert '(did you mean files-to-bigquery?)' in err[0]


@pytest.mark.parametrize('name', ['files-to-bigquery', 'files_to_bigquery'])
def test_a_command_is_the_modules_main_under_its_console_name(name, capsys):
  with pytest.raises(SystemExit) as info:
    commands.main([name, '--help'])
  assert info.value.code == 0
  assert capsys.readouterr().out.startswith('usage: beam-pipelines files-to-bigquery [options]')


def test_tool_commands_name_themselves(capsys):
  with pytest.raises(SystemExit) as info:
    commands.main(['launch', '--help'])
  assert info.value.code == 0
  assert capsys.readouterr().out.startswith('usage: beam-pipelines launch')


def test_python_m_beam_pipelines_is_the_same_command():
  proc = subprocess.run([sys.executable, '-m', 'beam_pipelines', 'forget', '--help'],
                        capture_output=True, text=True, timeout=120, cwd=REPO)
  assert proc.returncode == 0 and proc.stdout.startswith('usage: beam-pipelines forget')


def test_resources_are_the_repository_files_here():
  assert resources.template_names() == sorted(
      d for d in os.listdir(os.path.join(REPO, 'templates'))
      if os.path.isfile(os.path.join(REPO, 'templates', d, 'metadata.json')))
  assert os.path.samefile(resources.sample('events.jsonl'),
                          os.path.join(REPO, 'samples', 'events.jsonl'))
  assert os.path.samefile(resources.example('pipeline.yaml'),
                          os.path.join(REPO, 'examples', 'pipeline.yaml'))
  with pytest.raises(resources.ResourceError, match='nope.csv is not among the files'):
    resources.sample('nope.csv')


def test_copy_samples_keeps_the_relative_paths_examples_use(tmp_path):
  written = resources.copy_samples(str(tmp_path))
  assert (tmp_path / 'samples' / 'events_schema.json').is_file()
  assert (tmp_path / 'examples' / 'pipeline.yaml').is_file()
  assert not (tmp_path / 'samples' / '__init__.py').exists()
  for template in resources.template_names():
    params = json.loads((tmp_path / 'templates' / template / 'sample_parameters.json')
                        .read_text())
    for value in params.values():  # every samples/... path resolves from the copy
      if str(value).startswith('samples/'):
        assert (tmp_path / value).is_file(), value
  assert len(written) == len(set(written)) > 10


def test_launch_sample_parameters_point_at_the_shipped_files():
  params = launch.parse_parameter_args([], None, sample_of='files_to_bigquery')
  assert os.path.isabs(params['input']) and os.path.isfile(params['input'])
  assert params['input'] == resources.sample('events.jsonl')
  overridden = launch.parse_parameter_args(['output_table=p:d.t'], None,
                                           sample_of='files_to_bigquery')
  assert overridden['output_table'] == 'p:d.t'
  assert launch.validate_parameters(launch.load_metadata('files_to_bigquery'), params) == []


def test_the_demo_without_the_local_extra_says_what_to_install(monkeypatch, capsys, tmp_path):
  """The ``local`` extra's packages are installed here, so their absence is simulated:
  ``sys.modules[name] = None`` makes ``import duckdb_extensions`` raise ImportError, as in
  an environment without the extra."""
  monkeypatch.setitem(sys.modules, 'duckdb_extensions', None)
  assert demo.main(['--data_dir', str(tmp_path)]) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "pip install 'beam-pipelines[local]'" in err[0]
