"""``--batch_size`` of ``files_to_bigquery`` and ``pubsub_to_bigquery``: batched execution.

Records travel between the row-by-row steps (read, de-duplication, parse, validate, mask,
enrich, user function) in batches of at most this many, so the runner's per-element cost is
paid once per batch (``beam_pipelines.transforms.core.batches``); the outputs are the same.
A streaming pipeline's batches are timed (each record keeps its own timestamp).
"""

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.values import convert, parse_non_negative_int
from beam_pipelines.transforms.core.batches import DEFAULT_BATCH_SIZE, TimedBatches


# Beam registers only *direct* subclasses of PipelineOptions with its parser, so this class
# subclasses it directly and defines its flag exactly once (for both pipelines).
class BatchingOptions(PipelineOptions):
  """``--batch_size``."""
  HELP_TITLE = 'Batched execution'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--batch_size', default=str(DEFAULT_BATCH_SIZE),
                        help='Records per batch between the row-by-row steps (batched '
                             'execution: the runner\'s per-element cost is paid once per '
                             'batch; outputs are the same); 0: one record at a time.')


def batch_size(options, timed=False):
  """``--batch_size`` -> the ``batched`` setting of the chain: False, a batch size or, with
  ``timed`` (a streaming source: every record has its own timestamp), ``TimedBatches``."""
  size = convert('batch_size', parse_non_negative_int,
                 options.view_as(BatchingOptions).batch_size)
  if not size:
    return False
  return TimedBatches(size) if timed else size


__all__ = ['BatchingOptions', 'batch_size']
