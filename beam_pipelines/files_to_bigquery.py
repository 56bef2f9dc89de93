"""files_to_bigquery: files (JSONL) -> validated rows in BigQuery, bad records as dead letters.

    python -m beam_pipelines.files_to_bigquery --input 'data/*.jsonl' \
        --schema schema.json --output_table my-project:ds.events

Runs on the FnApiRunner unless ``--runner`` says otherwise, and honours
``BIGQUERY_EMULATOR_HOST`` for every BigQuery call.
"""

import dataclasses
import logging
import sys
from typing import NamedTuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import options as opts
from beam_pipelines.enrichment_options import apply_enrichment, enrichment_config
from beam_pipelines.summary import build_summary, collect_counters, format_summary
from transforms.dead_letters import WriteDeadLetters
from transforms.enrichment import enriched_schema
from transforms.parse import ParseAndValidate
from transforms.sinks import WriteRowsToBigQuery
from transforms.sources import ReadEvents

_LOG = logging.getLogger(__name__)


class PipelineOutputs(NamedTuple):
  """The PCollections tests and callers may assert on."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  unwritable_dead_letters: beam.PCollection


def build_pipeline(p, cfg):
  """Adds the files -> BigQuery chain to ``p`` and returns its important outputs."""
  read = p | 'ReadEvents' >> ReadEvents(cfg.source)
  parsed = read.rows | 'ParseAndValidate' >> ParseAndValidate(cfg.schema, cfg.parse)
  enriched = apply_enrichment(parsed.rows, cfg.enrichment)
  sink_schema = (cfg.schema if cfg.enrichment is None
                 else enriched_schema(cfg.schema, cfg.enrichment))
  sink_failures = enriched.rows | 'WriteRows' >> WriteRowsToBigQuery(
      cfg.sink, sink_schema, pipeline_name=cfg.pipeline_name)
  stage_dead_letters = [read.dead_letters, parsed.dead_letters]
  if enriched.dead_letters is not None:
    stage_dead_letters.append(enriched.dead_letters)
  dead_letters = ((*stage_dead_letters, sink_failures)
                  | 'FlattenDeadLetters' >> beam.Flatten())
  unwritable = dead_letters | 'WriteDeadLetters' >> WriteDeadLetters(
      cfg.dead_letters, pipeline_name=cfg.pipeline_name)
  return PipelineOutputs(rows=enriched.rows, dead_letters=dead_letters,
                         unwritable_dead_letters=unwritable)


def run(argv=None, print_summary=True):
  """Parses argv, runs the pipeline to completion and returns (result, summary)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  argv += opts.default_runner(argv, 'FnApiRunner') + opts.emulator_defaults(argv)
  options = PipelineOptions(argv)
  try:
    cfg = opts.files_to_bigquery_config(options)
    cfg = dataclasses.replace(cfg, enrichment=enrichment_config(options, cfg.pipeline_name))
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
