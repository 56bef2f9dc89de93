"""The worker refresh (``refresh_strategy='worker'``): the per-process LookupHolder (reload
when older than the interval, last good version kept, one load for many threads) with a
real lookup file and an injected clock, and the strategy running for real on the FnApiRunner
while the lookup file changes.

The LookupHolder tests pass a small recorder for the counters: Beam's counters only count
inside a running step; the pipeline test and tests/e2e/test_enrichment_refresh_streaming.py
check the real counters."""

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.transforms.enrichment.config import EnrichmentConfig
from beam_pipelines.transforms.enrichment.sources.base import LookupSourceError
from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource
from beam_pipelines.transforms.enrichment.transform import EnrichWithSideInput
from beam_pipelines.transforms.enrichment.worker_refresh import LookupHolder, version_text


class Recorder:
  """Stands in for the enrich counters outside a running step (see the module docstring)."""

  class _Count:
    def __init__(self):
      self.value = 0

    def inc(self, n=1):
      self.value += n

  def __getattr__(self, name):
    count = self._Count()
    setattr(self, name, count)
    return count


class Clock:
  def __init__(self):
    self.now = 1000.0

  def __call__(self):
    return self.now


def replace(path, text):
  partial = f'{path}.partial'
  with open(partial, 'w', encoding='utf-8') as f:
    f.write(text)
  os.replace(partial, path)


@dataclass(frozen=True)
class CountingFileSource(FileLookupSource):
  """A real lookup file whose reads are counted (and slowed, to make threads overlap)."""
  reads: Optional[str] = None
  delay: float = 0.0

  def read(self):
    with open(self.reads, 'a', encoding='utf-8') as f:
      f.write('read\n')
    time.sleep(self.delay)
    return super().read()


def config_for(source, seconds=10):
  return EnrichmentConfig(source=source, keys=('k',), fields=('v',), refresh_seconds=seconds,
                          refresh_strategy='worker')


def test_reloads_only_when_older_than_the_interval_and_keeps_the_last_good(tmp_path):
  path = str(tmp_path / 'lk.jsonl')
  replace(path, '{"k": "A", "v": 1}\n')
  clock, counters = Clock(), Recorder()
  holder = LookupHolder(config_for(FileLookupSource(path)), clock=clock,
                        wall_clock=lambda: clock.now + 1.7e9)
  first = holder.get(counters)
  assert first.index == {('A',): {'v': 1}} and first.version == version_text(1000 + 1.7e9)
  replace(path, '{"k": "A", "v": 2}\n')
  clock.now += 9.9
  assert holder.get(counters) is first            # younger than the interval: no read
  clock.now += 0.1
  second = holder.get(counters)
  assert second.index == {('A',): {'v': 2}} and second.version > first.version
  replace(path, '{"k": "A", "v": \n')              # a broken upload
  clock.now += 10
  assert holder.get(counters) is second            # the last good version serves
  assert counters.refresh_failures.value == 1
  clock.now += 5
  assert holder.get(counters) is second            # retried one interval later, not sooner
  assert counters.refresh_failures.value == 1
  replace(path, '{"k": "A", "v": 3}\n')
  clock.now += 5
  assert holder.get(counters).index == {('A',): {'v': 3}}
  assert (counters.loads.value, counters.refreshes.value) == (3, 3)


def test_a_failed_first_load_raises_naming_the_file(tmp_path):
  path = str(tmp_path / 'lk.jsonl')
  replace(path, 'not json\n')
  with pytest.raises(LookupSourceError, match=r'lk.jsonl:1: not valid JSON'):
    LookupHolder(config_for(FileLookupSource(path))).get(Recorder())


def test_threads_finding_it_stale_share_one_load(tmp_path):
  path, reads = str(tmp_path / 'lk.jsonl'), str(tmp_path / 'reads.log')
  replace(path, '{"k": "A", "v": 1}\n')
  clock = Clock()
  holder = LookupHolder(config_for(CountingFileSource(path, reads=reads, delay=0.2)),
                        clock=clock)
  got = []
  threads = [threading.Thread(target=lambda: got.append(holder.get(Recorder())))
             for _ in range(8)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert len(got) == 8 and len({id(v) for v in got}) == 1
  with open(reads, encoding='utf-8') as f:
    assert f.read().count('read') == 1


_COLLECTED = {}


def _collect(element, token):
  _COLLECTED.setdefault(token, []).append(element)


@dataclass(frozen=True)
class RotatingFileSource(FileLookupSource):
  """A real lookup file replaced by the next staged version after each read."""
  staged: tuple = ()

  def read(self):
    records = list(super().read())
    for path in self.staged:
      if os.path.exists(path):
        os.replace(path, self.path)
        break
    return iter(records)


def test_worker_refresh_on_the_fnapi_runner(tmp_path):
  """FnApiRunner in streaming mode: the worker refresh is chosen by ``auto`` and reloads
  while rows flow (one row every 0.25 s for about 2.5 s, refresh every second)."""
  path = str(tmp_path / 'lk.jsonl')
  replace(path, '{"k": "A", "v": "v1"}\n')
  staged = []
  for n in (2, 3, 4, 5):
    staged.append(str(tmp_path / f'v{n}.jsonl'))
    replace(staged[-1], json.dumps({'k': 'A', 'v': f'v{n}'}) + '\n')
  cfg = EnrichmentConfig(source=RotatingFileSource(path, staged=tuple(staged)), keys=('k',),
                         fields=('v',), refresh_seconds=1, version_field='version')
  token = uuid.uuid4().hex

  def slowly(row):
    time.sleep(0.25)
    return row

  with beam.Pipeline(options=PipelineOptions(['--runner', 'FnApiRunner',
                                              '--streaming'])) as p:
    rows = p | beam.Create([{'k': 'A', 'n': i} for i in range(10)]) | beam.Map(slowly)
    result = rows | 'Enrich' >> EnrichWithSideInput(cfg)
    _ = result.rows | 'Rows' >> beam.Map(_collect, token)
  out = sorted(_COLLECTED.pop(token, []), key=lambda r: r['n'])
  assert len(out) == 10
  versions = [r['version'] for r in out]
  assert versions == sorted(versions) and len(set(versions)) >= 2
  # Each version's rows carry that version's value: loads ran v1, v2, ... in order.
  by_version = {}
  for r in out:
    by_version.setdefault(r['version'], set()).add(r['v'])
  assert [by_version[v] for v in sorted(by_version)] == [
      {f'v{i + 1}'} for i in range(len(by_version))]
