"""The one transform chain every pipeline of the suite builds; only the source differs.

    ReadEvents -> ParseAndValidate -> [SchemaDrift] -> [MaskPII] -> [Enrich]
        -> [ApplyUserFunction] -> [CheckQuality -> quality table] -> rows sink (BigQuery or files)
                                                                  \\-> [WindowAndAggregate -> sink]
    dead letters of every step -> Flatten -> [MaskDeadLetters] -> WriteDeadLetters

``files_to_bigquery`` and ``pubsub_to_bigquery`` both call ``build_chain``; a test runs the
same events through both and compares what lands in BigQuery. Step labels are stable (Dataflow
``--update`` matches steps by name); optional steps exist only when configured.
"""

from typing import NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from beam_pipelines import masking_options
from beam_pipelines import quality_options
from beam_pipelines.enrichment_options import apply_enrichment
from beam_pipelines.udf_options import apply_udf
from transforms.dead_letters import WriteDeadLetters
from transforms.enrichment import enriched_schema
from transforms.lake_sink import WriteRowsToFiles
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


def processed_schema(schema, masking=None, enrichment=None):
  """The schema of rows after masking and enrichment: what the rows table holds."""
  schema = masking_options.masked_output_schema(masking, schema)
  return schema if enrichment is None else enriched_schema(schema, enrichment)


def output_schema(cfg):
  """The rows table schema of a pipeline config."""
  return processed_schema(cfg.schema, getattr(cfg, 'masking', None),
                          getattr(cfg, 'enrichment', None))


def _write(rows, label, sink, lake, schema, pipeline_name, metric_name='rows'):
  if lake is not None:
    return rows | label >> WriteRowsToFiles(lake, schema, pipeline_name=pipeline_name,
                                            metric_name=metric_name)
  return rows | label >> WriteRowsToBigQuery(sink, schema, pipeline_name=pipeline_name,
                                             metric_name=metric_name)


def build_chain(p, cfg):
  """Adds the chain to ``p`` for a config with ``source``, ``schema``, ``parse``, ``sink``,
  ``dead_letters``, ``pipeline_name`` and optional ``masking``, ``enrichment``, ``udf``, ``lake``
  (rows to files instead of BigQuery) and ``windowing`` (an AggregationConfig)."""
  name = cfg.pipeline_name
  quality = getattr(cfg, 'quality', None)  # rules, schema drift (quality_options)
  read = p | 'ReadEvents' >> ReadEvents(cfg.source)
  parse = quality_options.parse_config(cfg.parse, quality)  # new fields: schema_drift
  parsed = read.rows | 'ParseAndValidate' >> ParseAndValidate(cfg.schema, parse)
  # step 'SchemaDrift' (--schema_drift dead_letter|evolve): evolved rows join the others
  parsed = quality_options.apply_drift(parsed, quality, cfg.schema, parse, cfg.pipeline_name)
  rows, dead = parsed.rows, [read.dead_letters, parsed.dead_letters]
  masking = getattr(cfg, 'masking', None)
  masked = None
  if masking is not None:  # GDPR: step 'MaskPII' right after ParseAndValidate
    masked = masking_options.mask_rows(rows, masking, pipeline_name=name)
    rows = masked.rows
    dead.append(masked.dead_letters)
  enrichment = getattr(cfg, 'enrichment', None)
  if enrichment is not None:  # step 'Enrich' after MaskPII
    enriched = apply_enrichment(rows, enrichment)
    rows = enriched.rows
    dead.append(enriched.dead_letters)
  udf = getattr(cfg, 'udf', None)
  if udf is not None:  # step 'ApplyUserFunction' after Enrich, before the sinks
    applied = apply_udf(rows, udf, pipeline_name=name)
    rows = applied.rows
    dead.append(applied.dead_letters)
  schema = output_schema(cfg)
  checked = quality_options.apply_quality(rows, quality, name)
  if checked.dead_letters is not None:  # steps 'CheckQuality' + 'WriteQualityScores'
    rows = checked.rows
    dead.append(checked.dead_letters)
  lake = getattr(cfg, 'lake', None)
  dead.append(_write(rows, 'WriteFiles' if lake is not None else 'WriteRows', cfg.sink, lake,
                     quality_options.with_quality_columns(quality, schema), name))
  aggregates = None
  windowing = getattr(cfg, 'windowing', None)
  if windowing is not None:
    windowed = rows | 'WindowAndAggregate' >> WindowAndAggregate(
        windowing.window, windowing.aggregate, schema, pipeline_name=name)
    # Aggregate rows carry their window as columns; the sink and the dead-letter Flatten
    # want the global window (and its default trigger) like every other branch.
    aggregate_rows = windowed.rows | 'AggregatesToGlobalWindow' >> beam.WindowInto(
        GlobalWindows())
    dead += [windowed.dead_letters, _write(
        aggregate_rows, 'WriteAggregates', windowing.sink, windowing.lake,
        windowing.aggregate.table_schema(schema), name, metric_name='aggregates')]
    aggregates = windowed.rows
  dead_letters = tuple(dead) | 'FlattenDeadLetters' >> beam.Flatten()
  if masking is not None:  # dead letters of every stage are masked before being written
    dead_letters = masking_options.mask_dead_letters(
        dead_letters, masking, masked, csv=getattr(cfg.source, 'csv', None))
  unwritable = dead_letters | 'WriteDeadLetters' >> WriteDeadLetters(
      cfg.dead_letters, pipeline_name=name)
  return PipelineOutputs(rows=rows, dead_letters=dead_letters,
                         unwritable_dead_letters=unwritable, aggregates=aggregates)
