"""files_to_bigquery on several local worker processes gives what one process gives: same
rows, same aggregates, same dead letters with the same ``file:line`` source ids, same
summary counts. And when the pipeline decides by itself to use the local cores."""

import json
import random

import pytest

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.loads import committed_outputs
from beam_pipelines.runtime.local_parallelism import AUTO_PARALLEL_MIN_BYTES, auto_workers
from beam_pipelines.transforms.read.files import FileSourceConfig

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'kind', 'type': 'STRING'},
          {'name': 'at', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'},
          {'name': 'note', 'type': 'STRING'}]


def _inputs(tmp_path, count=3000):
  rng = random.Random(3)
  lines = []
  for i in range(count):
    roll = rng.random()
    if roll < 0.03:
      lines.append('{"id": "not a number"}')
    elif roll < 0.05:
      lines.append('{broken')
    else:
      lines.append(json.dumps({'id': i, 'kind': rng.choice('abc'),
                               'at': f'2026-11-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z',
                               'note': 'x' * rng.randint(0, 200)}))
  data = tmp_path / 'in.jsonl'
  data.write_text('\n'.join(lines) + '\n', encoding='utf-8')
  schema = tmp_path / 'schema.json'
  schema.write_text(json.dumps(SCHEMA))
  return str(data), str(schema)


def _run(tmp_path, name, data, schema, extra):
  prefix = str(tmp_path / name / 'rows')
  _, summary = files_to_bigquery.run([
      '--input', data, '--schema', schema, '--output_path', prefix, '--output_format', 'jsonl',
      '--window', 'fixed', '--window_size', '60s', '--event_time_field', 'at',
      '--aggregate_keys', 'kind', *extra], print_summary=False)

  outputs = committed_outputs(prefix)

  def lines(role):
    out = []
    for path in outputs[role]:
      with open(path, encoding='utf-8') as f:
        out += [json.loads(line) for line in f]
    return out
  dead = [{k: v for k, v in d.items() if k != 'timestamp'} for d in lines('dead_letters')]
  key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
  return (sorted(lines('rows'), key=key), sorted(lines('aggregates'), key=key),
          sorted(dead, key=key), summary)


@pytest.mark.slow
def test_two_worker_processes_give_the_one_process_result(tmp_path):
  data, schema = _inputs(tmp_path)
  one = _run(tmp_path, 'one', data, schema, ['--direct_num_workers', '1'])
  two = _run(tmp_path, 'two', data, schema,
             ['--input_split_bytes', '20000', '--direct_num_workers', '2',
              '--direct_running_mode', 'multi_processing'])
  rows, aggregates, dead, summary = two
  assert len(rows) > 2500 and len(dead) > 50 and aggregates
  assert rows == one[0]
  assert aggregates == one[1]
  assert dead == one[2]  # source ids (file:line) included
  assert len({d['sourceId'] for d in dead}) == len(dead)
  for key in ('records_read', 'rows_written', 'dead_letters'):
    assert summary[key] == one[3][key], key
  assert summary['records_read'] == summary['rows_written'] + summary['dead_letters'] == 3000


def test_auto_workers_only_for_a_large_local_input_without_worker_flags(tmp_path):
  big = tmp_path / 'big.jsonl'
  with open(big, 'wb') as f:
    f.truncate(AUTO_PARALLEL_MIN_BYTES + 1)  # sparse: the size is what counts
  small = tmp_path / 'small.jsonl'
  small.write_bytes(b'{}\n')
  source = FileSourceConfig(str(big))
  assert auto_workers([], 'FnApiRunner', source, cpu_count=2) == 2
  assert auto_workers([], 'FnApiRunner', source, cpu_count=16) == 8  # at most 8 workers
  assert auto_workers([], 'FnApiRunner', FileSourceConfig(str(big), split_bytes=16 << 20),
                      cpu_count=16) == 5  # 64 MiB + 1 byte in 16 MiB ranges
  assert auto_workers([], 'FnApiRunner', source, cpu_count=1) is None
  assert auto_workers(['--direct_num_workers', '1'], 'FnApiRunner', source, 2) is None
  assert auto_workers(['--direct_running_mode=in_memory'], 'FnApiRunner', source, 2) is None
  assert auto_workers([], 'DataflowRunner', source, 2) is None
  assert auto_workers([], 'FnApiRunner', FileSourceConfig(str(small)), 2) is None
  assert auto_workers([], 'FnApiRunner', FileSourceConfig('gs://b/*.jsonl'), 2) is None
  # One big file read whole (no splitting) is one unit: a second worker would idle.
  assert auto_workers([], 'FnApiRunner', FileSourceConfig(str(big), split_bytes=0), 2) is None
  gz = tmp_path / 'big.jsonl.gz'
  big.rename(gz)
  assert auto_workers([], 'FnApiRunner', FileSourceConfig(str(gz)), 2) is None


def test_bad_split_option_is_one_line_and_exit_2(tmp_path, capsys):
  data, schema = _inputs(tmp_path, count=3)
  with pytest.raises(SystemExit) as exc:
    files_to_bigquery.run(['--input', data, '--schema', schema, '--output_path',
                           str(tmp_path / 'o'), '--input_split_bytes', '16MB'])
  assert exc.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and '--input_split_bytes' in err[0]


def test_workers_inherit_a_fixed_mmap_threshold_unless_the_user_set_one(monkeypatch):
  from beam_pipelines.runtime import local_parallelism
  monkeypatch.delenv('MALLOC_MMAP_THRESHOLD_', raising=False)
  local_parallelism.keep_big_buffers_out_of_the_heap()
  import os
  assert os.environ['MALLOC_MMAP_THRESHOLD_'] == str(1 << 20)
  monkeypatch.setenv('MALLOC_MMAP_THRESHOLD_', '4096')
  local_parallelism.keep_big_buffers_out_of_the_heap()
  assert os.environ['MALLOC_MMAP_THRESHOLD_'] == '4096'
