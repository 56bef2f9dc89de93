"""The lake sink in a streaming pipeline (BundleBasedDirectRunner + TestStream): one set of
files per window, each holding exactly that window's rows."""

import glob
import json
import os

import apache_beam as beam
import fastavro
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms import window

from beam_pipelines.transforms.write.lake import LakeSinkConfig, WriteRowsToFiles

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'ts', 'type': 'TIMESTAMP'}]


def read_ids(path, fmt):
  if fmt == 'jsonl':
    with open(path, encoding='utf-8') as f:
      return [json.loads(line)['id'] for line in f]
  if fmt == 'parquet':
    return sorted(pq.read_table(path).column('id').to_pylist())
  with open(path, 'rb') as f:
    return sorted(r['id'] for r in fastavro.reader(f))


@pytest.mark.parametrize('fmt', ['parquet', 'avro', 'jsonl'])
def test_streaming_rows_are_written_per_window(tmp_path, fmt):
  stream = TestStream()
  for i in range(4):  # event times 10, 40 (window [0, 60)) and 70, 100 (window [60, 120))
    stream = stream.add_elements([window.TimestampedValue(
        {'id': i, 'ts': '2026-01-01T00:00:00.000000Z'}, 10 + 30 * i)])
  stream = stream.advance_watermark_to_infinity()
  options = PipelineOptions(runner='BundleBasedDirectRunner')
  options.view_as(StandardOptions).streaming = True
  with beam.Pipeline(options=options) as p:
    _ = p | stream | WriteRowsToFiles(
        SCHEMA, LakeSinkConfig(str(tmp_path / 'rows'), fmt, window_seconds=60))
  files = sorted(glob.glob(str(tmp_path / f'rows-*.{fmt}')))
  by_window = {}
  for path in files:  # rows-<window start>-<window end>-<pane>-<shard>-of-<n>.<fmt>
    name = os.path.basename(path)[len('rows-'):len('rows-') + 39]
    by_window.setdefault(name, []).extend(read_ids(path, fmt))
  assert {k: sorted(v) for k, v in by_window.items()} == {
      '1970-01-01T00:00:00-1970-01-01T00:01:00': [0, 1],
      '1970-01-01T00:01:00-1970-01-01T00:02:00': [2, 3]}
