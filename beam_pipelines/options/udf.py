"""The ``--udf`` option: a Python user function applied to every row.

    --udf my_company.udfs:clean_row        (an importable module)
    --udf /path/to/udfs.py:clean_row       (a file)

The function runs in the step ``ApplyUserFunction`` after ``Enrich`` and before the sink (see
``beam_pipelines.transforms.udf``): it takes a row and returns a row, a list of rows or None (dropped on
purpose, counted as ``user/dropped``). An exception inside it becomes a dead letter (stage
``user``, errorType ``udf_error:<ExceptionType>``), never a crash loop. A spec that cannot be
loaded is a configuration error (exit code 2 before any pipeline starts).
"""

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.values import ConfigError
from beam_pipelines.transforms.udf.apply import load_function


class UdfOptions(PipelineOptions):
  """``--udf`` (subclasses PipelineOptions directly: Beam only registers direct subclasses)."""
  HELP_TITLE = 'User function'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--udf', default=None,
                        help='A Python function applied to every row before the sink: '
                             'package.module:function or /path/file.py:function.')


def udf_config(options):
  """The validated ``--udf`` spec, or None; ConfigError naming ``--udf`` when it cannot load."""
  spec = options.view_as(UdfOptions).udf
  if spec is None or not str(spec).strip():
    return None
  try:
    load_function(spec)
  except ValueError as e:
    raise ConfigError(f'--udf: {e}') from None
  return spec
