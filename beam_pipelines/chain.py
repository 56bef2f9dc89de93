"""The one transform chain every pipeline of the suite builds; only the source differs.

    ReadEvents -> ParseAndValidate -> WriteRowsToBigQuery
                        \\-> [WindowAndAggregate -> WriteRowsToBigQuery (aggregates)]
    dead letters of every step -> Flatten -> WriteDeadLetters

``files_to_bigquery`` and ``pubsub_to_bigquery`` both call ``build_chain``; a test runs the
same events through both and compares what lands in BigQuery.
"""

from typing import NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from transforms.dead_letters import WriteDeadLetters
from transforms.parse import ParseAndValidate
from transforms.sinks import WriteRowsToBigQuery
from transforms.sources import ReadEvents
from transforms.windowing import WindowAndAggregate


class PipelineOutputs(NamedTuple):
  """The PCollections tests and callers may assert on."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  unwritable_dead_letters: beam.PCollection
  aggregates: beam.PCollection | None = None


def build_chain(p, cfg):
  """Adds the chain to ``p`` for a config with ``source``, ``schema``, ``parse``, ``sink``,
  ``dead_letters``, ``pipeline_name`` and an optional ``windowing`` (AggregationConfig)."""
  read = p | 'ReadEvents' >> ReadEvents(cfg.source)
  parsed = read.rows | 'ParseAndValidate' >> ParseAndValidate(cfg.schema, cfg.parse)
  sink_failures = parsed.rows | 'WriteRows' >> WriteRowsToBigQuery(
      cfg.sink, cfg.schema, pipeline_name=cfg.pipeline_name)
  dead = [read.dead_letters, parsed.dead_letters, sink_failures]
  aggregates = None
  windowing = getattr(cfg, 'windowing', None)
  if windowing is not None:
    windowed = parsed.rows | 'WindowAndAggregate' >> WindowAndAggregate(
        windowing.window, windowing.aggregate, cfg.schema, pipeline_name=cfg.pipeline_name)
    # Aggregate rows carry their window as columns; the sink and the dead-letter Flatten
    # want the global window (and its default trigger) like every other branch.
    aggregate_rows = windowed.rows | 'AggregatesToGlobalWindow' >> beam.WindowInto(
        GlobalWindows())
    aggregate_failures = aggregate_rows | 'WriteAggregates' >> WriteRowsToBigQuery(
        windowing.sink, windowing.aggregate.table_schema(cfg.schema),
        pipeline_name=cfg.pipeline_name, metric_name='aggregates')
    dead += [windowed.dead_letters, aggregate_failures]
    aggregates = windowed.rows
  dead_letters = tuple(dead) | 'FlattenDeadLetters' >> beam.Flatten()
  unwritable = dead_letters | 'WriteDeadLetters' >> WriteDeadLetters(
      cfg.dead_letters, pipeline_name=cfg.pipeline_name)
  return PipelineOutputs(rows=parsed.rows, dead_letters=dead_letters,
                         unwritable_dead_letters=unwritable, aggregates=aggregates)
