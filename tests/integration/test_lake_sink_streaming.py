"""The lake sink in a streaming pipeline (BundleBasedDirectRunner + TestStream): one set of
files per window, each holding exactly that window's rows."""

import glob
import os

import apache_beam as beam
import fastavro
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms import window

from transforms.lake_sink import LakeSinkConfig, WriteRowsToFiles

SCHEMA = [{'name': 'id', 'type': 'INT64', 'mode': 'REQUIRED'},
          {'name': 'ts', 'type': 'TIMESTAMP'}]


def read_ids(path, fmt):
  if fmt == 'parquet':
    return sorted(pq.read_table(path).column('id').to_pylist())
  with open(path, 'rb') as f:
    return sorted(r['id'] for r in fastavro.reader(f))


@pytest.mark.parametrize('fmt', ['parquet', 'avro'])
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
        LakeSinkConfig(str(tmp_path / 'rows'), fmt, window_seconds=60), SCHEMA)
  files = sorted(glob.glob(str(tmp_path / f'rows-*.{fmt}')))
  assert [os.path.basename(f) for f in files] == [
      f'rows-[0.0, 60.0)-00000-of-00001.{fmt}', f'rows-[60.0, 120.0)-00000-of-00001.{fmt}']
  assert [read_ids(f, fmt) for f in files] == [[0, 1], [2, 3]]
