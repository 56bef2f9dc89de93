"""The docs' example commands run as written, from the repository root, in a shell: the
Beam YAML example of docs/yaml.md and the Python and YAML compose examples of
docs/compose.md (on the whole sample file). The only change: their ``/tmp/...`` output
folders are replaced by this test's temporary folder, and ``python`` is this interpreter."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_RECORDS, SAMPLE_BAD = 3000, 119  # samples/events.jsonl; 119 are bad on purpose


def bash_blocks(page):
  with open(os.path.join(REPO, page), encoding='utf-8') as f:
    return re.findall(r'```bash\n(.*?)```', f.read(), re.DOTALL)


def command(page, needle):
  found = [b for b in bash_blocks(page) if needle in b]
  assert len(found) == 1, f'{page}: {len(found)} bash blocks with {needle!r}'
  return found[0]


def records(prefix):
  out = []
  for path in glob.glob(prefix + '*'):
    with open(path, 'rb') as f:
      out += [json.loads(line) for line in f.read().split(b'\n') if line.strip()]
  return out


def run_as_written(block, tmp_path):
  """Runs the block with bash; returns the output folder it wrote to."""
  outputs = set(re.findall(r'/tmp/[\w.-]+', block))
  assert len(outputs) == 1, outputs
  out_dir = tmp_path / 'out'
  script = block.replace(outputs.pop(), str(out_dir))
  # `python` is this interpreter: its folder (the venv's bin) first on PATH.
  bin_dir = os.path.dirname(sys.executable)
  assert os.path.exists(os.path.join(bin_dir, 'python'))
  env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
  done = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  return out_dir


@pytest.mark.parametrize('page, needle, rows_prefix', [
    ('docs/yaml.md', 'examples/pipeline.yaml', 'events.jsonl'),
    ('docs/compose.md', 'examples/compose_pipeline.yaml', 'events-'),
    ('docs/compose.md', 'examples/compose_pipeline.py', 'events-'),
])
def test_the_documented_command_runs_as_written(page, needle, rows_prefix, tmp_path):
  out = run_as_written(command(page, needle), tmp_path)
  rows = records(str(out / rows_prefix))
  dead = records(str(out / 'events_error_records'))
  # Every record is a row or a dead letter; the sample's bad records are dead letters.
  assert len(rows) + len(dead) == SAMPLE_RECORDS
  assert len(dead) >= SAMPLE_BAD and rows
