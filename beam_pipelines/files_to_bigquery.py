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
from beam_pipelines import quality_options
from beam_pipelines import options as opts
from beam_pipelines.enrichment_options import apply_enrichment
from beam_pipelines.summary import format_summary, run_summary, write_summary
from transforms.dead_letters import WriteDeadLetters
from transforms.enrichment import enriched_schema
from transforms.lake_sink import WriteRowsToFiles
from transforms.parse import ParseAndValidate
from transforms.sinks import WriteRowsToBigQuery
from transforms.sources import ReadEvents

_LOG = logging.getLogger(__name__)
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (opts.CommonOptions, opts.FilesToBigQueryOptions,
                   quality_options.QualityOptions)


class PipelineOutputs(NamedTuple):
  """The PCollections tests and callers may assert on."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  unwritable_dead_letters: beam.PCollection


def build_pipeline(p, cfg):
  """Adds the files -> BigQuery chain to ``p`` and returns its important outputs."""
  read = p | 'ReadEvents' >> ReadEvents(cfg.source)
  parse = quality_options.parse_config(cfg.parse, cfg.quality)  # new fields: schema_drift
  parsed = read.rows | 'ParseAndValidate' >> ParseAndValidate(cfg.schema, parse)
  # step 'SchemaDrift' (--schema_drift dead_letter|evolve): evolved rows join the others
  parsed = quality_options.apply_drift(parsed, cfg.quality, cfg.schema, parse,
                                       cfg.pipeline_name)
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
  checked = quality_options.apply_quality(rows, cfg.quality, cfg.pipeline_name)
  if checked.dead_letters is not None:  # steps 'CheckQuality' + 'WriteQualityScores'
    rows, stage_dead_letters = checked.rows, stage_dead_letters + (checked.dead_letters,)
    output_schema = quality_options.output_schema(cfg.quality, output_schema)
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
  summary = run_summary(result, cfg)  # counters, quality scores, sources/sinks, lineage
  if print_summary:
    print(format_summary(summary, f'{cfg.pipeline_name} summary'))
  if cfg.quality is not None and cfg.quality.summary_path:
    write_summary(summary, cfg.quality.summary_path)
  return result, summary


if __name__ == '__main__':
  logging.getLogger().setLevel(logging.WARNING)
  run()
