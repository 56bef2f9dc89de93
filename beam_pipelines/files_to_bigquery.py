"""files_to_bigquery: files (JSONL, CSV, Avro, Parquet) -> validated rows in BigQuery (or
in JSONL/Avro/Parquet files with ``--output_path``), bad records as dead letters.

    python -m beam_pipelines.files_to_bigquery --input 'data/*.jsonl' \
        --schema schema.json --output_table my-project:ds.events

Runs on the FnApiRunner unless ``--runner`` says otherwise, and honours
``BIGQUERY_EMULATOR_HOST`` for every BigQuery call.
"""

import logging
import sys
from typing import NamedTuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import masking_options
from beam_pipelines import options as opts
from beam_pipelines.enrichment_options import apply_enrichment
from beam_pipelines.summary import build_summary, collect_counters, format_summary
from beam_pipelines.udf_options import apply_udf
from transforms.dead_letters import WriteDeadLetters
from transforms.enrichment import enriched_schema
from transforms.lake_sink import WriteRowsToFiles
from transforms.parse import ParseAndValidate
from transforms.sinks import WriteRowsToBigQuery
from transforms.sources import ReadEvents

_LOG = logging.getLogger(__name__)
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (opts.CommonOptions, opts.FilesToBigQueryOptions)


class PipelineOutputs(NamedTuple):
  """The PCollections tests and callers may assert on."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  unwritable_dead_letters: beam.PCollection


def build_pipeline(p, cfg):
  """Adds the files -> BigQuery chain to ``p`` and returns its important outputs."""
  read = p | 'ReadEvents' >> ReadEvents(cfg.source)
  parsed = read.rows | 'ParseAndValidate' >> ParseAndValidate(cfg.schema, cfg.parse)
  rows, stage_dead_letters = parsed.rows, (read.dead_letters, parsed.dead_letters)
  masked = None
  if cfg.masking is not None:  # GDPR: step 'MaskPII' right after ParseAndValidate
    masked = masking_options.mask_rows(rows, cfg.masking, pipeline_name=cfg.pipeline_name)
    rows, stage_dead_letters = masked.rows, stage_dead_letters + (masked.dead_letters,)
  output_schema = masking_options.output_schema(cfg.masking, cfg.schema)
  if cfg.enrichment is not None:  # step 'Enrich' after MaskPII
    enriched = apply_enrichment(rows, cfg.enrichment)
    rows, stage_dead_letters = enriched.rows, stage_dead_letters + (enriched.dead_letters,)
    output_schema = enriched_schema(output_schema, cfg.enrichment)
  if cfg.udf is not None:  # step 'ApplyUserFunction' after Enrich, before the sink
    applied = apply_udf(rows, cfg.udf, pipeline_name=cfg.pipeline_name)
    rows, stage_dead_letters = applied.rows, stage_dead_letters + (applied.dead_letters,)
  if cfg.lake is not None:
    sink_failures = rows | 'WriteFiles' >> WriteRowsToFiles(
        cfg.lake, output_schema, pipeline_name=cfg.pipeline_name)
  else:
    sink_failures = rows | 'WriteRows' >> WriteRowsToBigQuery(
        cfg.sink, output_schema, pipeline_name=cfg.pipeline_name)
  dead_letters = ((*stage_dead_letters, sink_failures)
                  | 'FlattenDeadLetters' >> beam.Flatten())
  if cfg.masking is not None:  # dead letters of every stage are masked before being written
    dead_letters = masking_options.mask_dead_letters(dead_letters, cfg.masking, masked)
  unwritable = dead_letters | 'WriteDeadLetters' >> WriteDeadLetters(
      cfg.dead_letters, pipeline_name=cfg.pipeline_name)
  return PipelineOutputs(rows=rows, dead_letters=dead_letters,
                         unwritable_dead_letters=unwritable)


def config_from_options(options):
  """PipelineOptions -> the validated config (raises ConfigError naming the option)."""
  return opts.files_to_bigquery_config(options)


def run(argv=None, print_summary=True):
  """Parses argv, runs the pipeline to completion and returns (result, summary)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  argv += opts.default_runner(argv, 'FnApiRunner') + opts.emulator_defaults(argv)
  options = PipelineOptions(argv)
  try:
    cfg = config_from_options(options)
  except opts.ConfigError as e:
    print(f'files_to_bigquery: error: {e}', file=sys.stderr)
    raise SystemExit(2) from None
  with beam.Pipeline(options=options) as p:
    build_pipeline(p, cfg)
  result = p.result
  summary = build_summary(collect_counters(result))
  if print_summary:
    print(format_summary(summary, f'{cfg.pipeline_name} summary'))
  return result, summary


if __name__ == '__main__':
  logging.getLogger().setLevel(logging.WARNING)
  run()
