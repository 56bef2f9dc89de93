"""files_to_bigquery: files (JSONL) -> validated rows in BigQuery, bad records as dead letters.

    python -m beam_pipelines.files_to_bigquery --input 'data/*.jsonl' \
        --schema schema.json --output_table my-project:ds.events

Runs on the FnApiRunner unless ``--runner`` says otherwise, and honours
``BIGQUERY_EMULATOR_HOST`` for every BigQuery call.
"""

import logging
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import options as opts
from beam_pipelines import streaming_options  # noqa: F401  registers WindowingOptions
from beam_pipelines.chain import PipelineOutputs, build_chain  # noqa: F401
from beam_pipelines.summary import build_summary, collect_counters, format_summary

_LOG = logging.getLogger(__name__)


def build_pipeline(p, cfg):
  """Adds the files -> BigQuery chain to ``p`` and returns its important outputs."""
  return build_chain(p, cfg)


def run(argv=None, print_summary=True):
  """Parses argv, runs the pipeline to completion and returns (result, summary)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  argv += opts.default_runner(argv, 'FnApiRunner') + opts.emulator_defaults(argv)
  options = PipelineOptions(argv)
  try:
    cfg = opts.files_to_bigquery_config(options)
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
