"""ReadEvents over JSONL files: one RawMessage per line with an exact file:line source id."""

import gzip

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.transforms.read.events import ReadEvents
from beam_pipelines.transforms.read.files import FileSourceConfig


def test_lines_keep_their_numbers_crlf_and_bom(tmp_path):
  path = tmp_path / 'a.jsonl'
  path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\n{"a": 2}\n{"a": 3}')
  with TestPipeline(runner='FnApiRunner') as p:
    result = p | ReadEvents(FileSourceConfig(str(path)))
    assert_that(result.rows | beam.Map(lambda m: (m.source_id, m.payload)),
                equal_to([(f'{path}:1', b'{"a": 1}'), (f'{path}:2', b''),
                          (f'{path}:3', b'{"a": 2}'), (f'{path}:4', b'{"a": 3}')]))
    assert_that(result.dead_letters, equal_to([]), label='no dead letters')


def test_glob_reads_every_file_and_gzip_by_suffix(tmp_path):
  (tmp_path / 'x.jsonl').write_bytes(b'1\n2\n')
  with gzip.open(tmp_path / 'y.jsonl.gz', 'wb') as f:
    f.write(b'3\n')
  with TestPipeline(runner='FnApiRunner') as p:
    result = p | ReadEvents(FileSourceConfig(str(tmp_path / '*.jsonl*')))
    assert_that(result.rows | beam.Map(lambda m: (m.source_id.rsplit('/', 1)[1], m.payload)),
                equal_to([('x.jsonl:1', b'1'), ('x.jsonl:2', b'2'), ('y.jsonl.gz:1', b'3')]))


def test_corrupt_gzip_is_reported_not_skipped(tmp_path):
  path = tmp_path / 'bad.jsonl.gz'
  good = gzip.compress(b'{"a": 1}\n' * 1000)
  path.write_bytes(good[:len(good) // 2])  # truncated stream
  with TestPipeline(runner='FnApiRunner') as p:
    result = p | ReadEvents(FileSourceConfig(str(path)))
    assert_that(result.dead_letters | beam.Map(lambda d: (d['stage'], d['errorType'],
                                                          str(path) in d['errorMessage'])),
                equal_to([('read', 'unreadable_file', True)]))


def test_pattern_matching_nothing_fails_the_run(tmp_path):
  with pytest.raises(Exception, match='nothing-'):
    with TestPipeline(runner='FnApiRunner') as p:
      _ = p | ReadEvents(FileSourceConfig(str(tmp_path / 'nothing-*.jsonl')))


def test_allow_empty_match_reads_nothing(tmp_path):
  with TestPipeline(runner='FnApiRunner') as p:
    result = p | ReadEvents(FileSourceConfig(str(tmp_path / 'nothing-*.jsonl'),
                                             allow_empty_match=True))
    assert_that(result.rows, equal_to([]))


def test_gs_pattern_needs_no_network_at_construction():
  # Building the graph must not stat gs:// (the network guard would fail this test).
  p = beam.Pipeline(runner='FnApiRunner')
  _ = p | ReadEvents(FileSourceConfig('gs://some-bucket/events/*.jsonl'))


def test_bad_config_raises_value_error_naming_the_argument():
  with pytest.raises(ValueError, match='format'):
    FileSourceConfig('x', format='xml')
  with pytest.raises(ValueError, match='pattern'):
    FileSourceConfig('')
  with pytest.raises(ValueError, match='FileSourceConfig'):
    ReadEvents({'pattern': 'x'})
