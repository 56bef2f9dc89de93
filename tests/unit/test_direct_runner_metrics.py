"""User counters on the BundleBasedDirectRunner are exact once the Beam patch
direct_runner_metrics is on
(without it Beam 2.77 reports only the first bundle per worker thread and step)."""

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream

from beam_pipelines.runtime.summary import collect_counters
from beam_pipelines.transforms import beam_patches


class _Count(beam.DoFn):
  def __init__(self):
    self._seen = Metrics.counter('test', 'seen')

  def process(self, element):
    self._seen.inc()
    yield element


def test_counters_add_up_across_bundles():
  beam_patches.enable('direct_runner_metrics')
  beam_patches.enable('direct_runner_metrics')  # idempotent
  options = PipelineOptions(runner='BundleBasedDirectRunner')
  options.view_as(StandardOptions).streaming = True
  p = beam.Pipeline(options=options)
  stream = TestStream()
  for i in range(6):
    stream = stream.add_elements([i * 10 + j for j in range(i + 1)])  # 21 elements, 6 bundles
  _ = (p | stream.advance_watermark_to_infinity() | 'First' >> beam.ParDo(_Count())
       | 'Second' >> beam.ParDo(_Count()))
  result = p.run()
  result.wait_until_finish()
  assert collect_counters(result) == {('test', 'seen'): 42}
