"""Big JSONL files read as line-aligned ranges: every line read exactly once, with the same
``file:line`` source id and payload as a whole-file read, whatever the cut points."""

import io
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_pipelines.transforms.read import file_splits
from beam_pipelines.transforms.read.events import ReadEvents
from beam_pipelines.transforms.read.file_splits import FileRange, line_range_starts, plan_ranges
from beam_pipelines.transforms.read.files import FileSourceConfig


def _expected_starts(data, split_bytes):
  """The definition, the slow way: the first line start at or after each target."""
  starts, target, offset = [], split_bytes, 0
  for number, line in enumerate(data.split(b'\n'), start=1):
    if offset and offset >= target:
      starts.append((offset, number))
      target = offset + split_bytes
    offset += len(line) + 1
  return [s for s in starts if s[0] <= len(data)]


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.binary(max_size=60).map(lambda b: b.replace(b'\n', b'x')), max_size=40),
       tail=st.booleans(), split_bytes=st.integers(1, 120), block=st.integers(1, 50))
def test_cut_points_match_the_definition_for_any_block_size(lines, tail, split_bytes, block):
  data = b'\n'.join(lines) + (b'\n' if tail and lines else b'')
  assert line_range_starts(io.BytesIO(data), split_bytes, block) == \
      _expected_starts(data, split_bytes)


def _read_lines(element):
  fn = file_splits_reader()
  return [(m.source_id, m.payload) for m in fn.process(element)
          if not isinstance(m, beam.pvalue.TaggedOutput)]


def file_splits_reader():
  from beam_pipelines.transforms.read.formats.jsonl import ReadJsonLinesFn
  return ReadJsonLinesFn()


@pytest.mark.parametrize('ending', [b'\n', b'\r\n'])
def test_ranges_read_every_line_once_with_whole_file_ids(tmp_path, ending):
  rng = random.Random(7)
  lines = [b'{"n": %d, "pad": "%s"}' % (i, b'x' * rng.randint(0, 300)) for i in range(2000)]
  lines[500] = b''  # an empty line keeps its number
  lines[900] = b'y' * 5000  # a line longer than a range
  path = tmp_path / 'big.jsonl'
  path.write_bytes(b'\xef\xbb\xbf' + ending.join(lines))  # BOM; no newline at the end
  size = path.stat().st_size
  whole = _read_lines(FileRange(str(path), size))
  assert len(whole) == 2000 and whole[0] == (f'{path}:1', lines[0])
  for split_bytes in (1000, 4096, 77_777):
    ranges = plan_ranges(str(path), size, 'jsonl', split_bytes)
    assert len(ranges) > 2
    assert ranges[0].start == 0 and ranges[-1].end is None
    assert all(a.end == b.start for a, b in zip(ranges, ranges[1:], strict=False))
    split = [line for r in ranges for line in _read_lines(r)]
    assert split == whole, split_bytes


def test_small_compressed_and_other_formats_stay_whole(tmp_path):
  path = tmp_path / 'a.jsonl'
  path.write_bytes(b'1\n' * 10_000)
  assert plan_ranges(str(path), 20_000, 'jsonl', 20_000) == [FileRange(str(path), 20_000)]
  assert plan_ranges(str(path), 20_000, 'jsonl', 0) == [FileRange(str(path), 20_000)]
  assert plan_ranges(str(path), 20_000, 'csv', 100) == [FileRange(str(path), 20_000)]
  assert plan_ranges(str(path) + '.gz', 20_000, 'jsonl', 100) == [
      FileRange(str(path) + '.gz', 20_000)]
  assert len(plan_ranges(str(path), 20_000, 'jsonl', 100)) == 200


def test_pipeline_reads_a_split_file_like_a_whole_one(tmp_path):
  path = tmp_path / 'events.jsonl'
  path.write_bytes(b''.join(b'{"n": %d}\n' % i for i in range(5000)))
  expected = [(f'{path}:{i + 1}', b'{"n": %d}' % i) for i in range(5000)]
  for split_bytes in (0, 1000):
    with TestPipeline(runner='FnApiRunner') as p:
      result = p | ReadEvents(FileSourceConfig(str(path), split_bytes=split_bytes))
      assert_that(result.rows | beam.Map(lambda m: (m.source_id, m.payload)),
                  equal_to(expected))
      assert_that(result.dead_letters, equal_to([]), label='no dead letters')


def test_a_file_shortened_after_planning_is_reported_not_skipped(tmp_path):
  path = tmp_path / 'shrinks.jsonl'
  path.write_bytes(b'{"n": 1}\n' * 1000)
  ranges = plan_ranges(str(path), path.stat().st_size, 'jsonl', 1000)
  path.write_bytes(b'{"n": 1}\n' * 10)  # truncated between planning and reading
  out = [m for r in ranges for m in file_splits_reader().process(r)]
  rows = [m for m in out if not isinstance(m, beam.pvalue.TaggedOutput)]
  # Ranges past the new end read nothing; what is there is read once. (A file changing under
  # a running batch job is outside what any file source can promise; this only shows the
  # reader neither crashes nor duplicates.)
  assert [m.source_id for m in rows] == [f'{path}:{i}' for i in range(1, 11)]


def test_a_file_unreadable_at_planning_is_read_whole_and_reported(tmp_path):
  path = str(tmp_path / 'gone.jsonl')  # matched, then deleted before planning
  assert plan_ranges(path, 50_000_000, 'jsonl', 1000) == [FileRange(path, 50_000_000)]
  out = list(file_splits_reader().process(FileRange(path, 50_000_000)))
  assert len(out) == 1 and isinstance(out[0], beam.pvalue.TaggedOutput)
  dead = out[0].value
  assert dead['errorType'] == 'unreadable_file' and path in dead['errorMessage']


def test_split_bytes_is_validated():
  with pytest.raises(ValueError, match='split_bytes'):
    FileSourceConfig('x', split_bytes=-1)
  with pytest.raises(ValueError, match='split_bytes'):
    FileSourceConfig('x', split_bytes='16M')
  with pytest.raises(ValueError, match='split_bytes'):
    file_splits.PlanFileReads('jsonl', split_bytes=-5)
