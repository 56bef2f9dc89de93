"""Shards of the suite's stateful steps: by runner unless given (transforms/core/shards.py)."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.transforms.core.shards import (DISTRIBUTED_SHARDS, LOCAL_SHARDS,
                                                   check_shards, stateful_shards)
from beam_pipelines.transforms.read import PubSubSourceConfig
from beam_pipelines.transforms.read.pubsub_dedupe import DedupeById
from beam_pipelines.transforms.windowing import WindowConfig


def _key_by_shard_fn(pipeline, label):
  found = []

  class Visitor(beam.pipeline.PipelineVisitor):
    def visit_transform(self, node):
      if node.full_label.endswith(label):
        found.append(node.transform.fn)
  pipeline.visit(Visitor())
  return found[0]


def test_the_default_is_few_shards_on_the_direct_runner_and_more_elsewhere():
  """Another runner stands in for Dataflow (whose runner would reach for Cloud Storage when
  the pipeline is built): only the runner's kind decides."""
  from apache_beam.runners.runner import PipelineRunner

  class RemoteRunner(PipelineRunner):
    """Runs nothing; a runner that is not one of Beam's in-process runners."""

  direct = beam.Pipeline(options=PipelineOptions(streaming=True))
  dataflow = beam.Pipeline(runner=RemoteRunner(), options=PipelineOptions(streaming=True))
  assert stateful_shards(direct) == LOCAL_SHARDS == 2
  assert stateful_shards(dataflow) == DISTRIBUTED_SHARDS == 16
  assert stateful_shards(direct, 7) == stateful_shards(dataflow, 7) == 7
  for pipeline, expected in ((direct, 2), (dataflow, 16)):
    _ = (pipeline | beam.Create([]) | 'Dedupe' >> DedupeById('event_id', 60.0))
    assert _key_by_shard_fn(pipeline, 'Dedupe/KeyById/ParDo(_KeyByShard)')._shards == expected


@pytest.mark.parametrize('shards', [None, 1, 16])
def test_the_number_of_shards_changes_no_output(shards):
  from apache_beam.io.gcp.pubsub import PubsubMessage
  messages = [PubsubMessage(b'%d' % i, {'event_id': f'id-{i % 7}'}) for i in range(40)]
  with beam.Pipeline() as p:
    out = (p | beam.Create(messages) | DedupeById('event_id', 600.0, shards=shards)
           | beam.Map(lambda m: m.attributes['event_id']))
    assert_that(out, equal_to([f'id-{i}' for i in range(7)]))


@pytest.mark.parametrize('bad', [0, -1, True, 2.5, '2'])
def test_bad_shard_counts_are_refused_by_every_config(bad):
  with pytest.raises(ValueError, match='must be a positive integer'):
    check_shards(bad, 'shards')
  with pytest.raises(ValueError, match='dedupe_shards'):
    PubSubSourceConfig(subscription='projects/p/subscriptions/s', dedupe_shards=bad)
  with pytest.raises(ValueError, match='gate_shards'):
    WindowConfig(kind='fixed', size_seconds=60, gate_shards=bad)
  assert WindowConfig(kind='fixed', size_seconds=60).gate_shards is None
