"""files_to_bigquery: files (JSONL, CSV, Avro, Parquet) -> validated rows in BigQuery (or
in JSONL/Avro/Parquet files with ``--output_path``), bad records as dead letters.

    python -m beam_pipelines.files_to_bigquery --input 'data/*.jsonl' \
        --schema schema.json --output_table my-project:ds.events

The chain (``beam_pipelines.chain``) is the one ``pubsub_to_bigquery`` runs: parse and
validate, optional masking, enrichment and windowed aggregation, one dead-letter writer.
Runs on the FnApiRunner unless ``--runner`` says otherwise (with one worker process per core
for a large local input, see ``beam_pipelines.runtime.local_parallelism``), and honours
``BIGQUERY_EMULATOR_HOST`` for every BigQuery call.
"""

import logging
import sys

import apache_beam as beam

from beam_pipelines.chain import PipelineOutputs, build_chain  # noqa: F401  (re-exported)
from beam_pipelines.config import files_to_bigquery_config
from beam_pipelines.options import (CommonOptions, EnrichmentOptions, FileInputOptions,
                                    FilesToBigQueryOptions, MaskingOptions, QualityOptions,
                                    UdfOptions, WindowingOptions)
from beam_pipelines.runtime.cli import options_and_config
from beam_pipelines.runtime.local_parallelism import use_local_cores
from beam_pipelines.runtime.summary import format_summary, run_summary, write_summary

_LOG = logging.getLogger(__name__)
NAME = 'files_to_bigquery'
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (CommonOptions, FileInputOptions, FilesToBigQueryOptions, MaskingOptions,
                   EnrichmentOptions, WindowingOptions, QualityOptions, UdfOptions)


def build_pipeline(p, cfg):
  """Adds the files -> BigQuery chain to ``p`` and returns its important outputs."""
  return build_chain(p, cfg)


def config_from_options(options):
  """PipelineOptions -> the validated config (raises ConfigError naming the option)."""
  return files_to_bigquery_config(options)


def run(argv=None, print_summary=True):
  """Parses argv, runs the pipeline to completion and returns (result, summary)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  options, cfg = options_and_config(argv, NAME, 'FnApiRunner', config_from_options)
  use_local_cores(options, argv, cfg.source)
  with beam.Pipeline(options=options) as p:
    build_pipeline(p, cfg)
  result = p.result
  summary = run_summary(result, cfg)  # counters, quality scores, sources/sinks, lineage
  if print_summary:
    print(format_summary(summary, f'{cfg.pipeline_name} summary'))
  if cfg.quality.summary_path:
    write_summary(summary, cfg.quality.summary_path)
  return result, summary


if __name__ == '__main__':
  logging.getLogger().setLevel(logging.WARNING)
  run()
