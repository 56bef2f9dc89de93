"""Exactly-once load options of ``files_to_bigquery`` and their typed config, ``LoadConfig``.

    --load_mode incremental|append|replace   incremental (default): each input file once
    --changed_files error|skip|reload        a file changed since it was loaded (default error)
    --load_manifest_table P:D.T              default <output_table>_loads
    --source_file_column NAME                a rows column holding each row's input file

The steps it configures (``SelectFilesToLoad``, the staged sinks, ``CommitLoads``) are wired by
``beam_pipelines.chain_steps``.
"""

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from beam_pipelines.options.common import retry_budget_of, temp_location_of
from beam_pipelines.options.values import ConfigError, convert, convert_by_argument
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.loads.config import (CHANGED_FILES, LOAD_MODES, LoadConfig,
                                                    default_manifest_table, new_run_id,
                                                    staging_folder)

# LoadConfig's errors start with the argument they are about -> the option that sets it.
_LOAD_OPTIONS = {'mode': 'load_mode', 'changed_files': 'changed_files',
                 'manifest_table': 'load_manifest_table', 'run_id': 'load_mode'}


class LoadOptions(PipelineOptions):
  """How ``files_to_bigquery`` loads files: once each (incremental), again (append) or in
  place of the table's content (replace)."""
  HELP_TITLE = 'Exactly-once loads'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--load_mode', default=None,
                        help=f'{"|".join(LOAD_MODES)}. incremental (the default; append with '
                             '--schema_drift evolve): each input file (path, size and '
                             'modification time) is loaded exactly once across runs; files '
                             'loaded before are skipped. append: every file read is appended '
                             '(no manifest). replace: the run\'s result replaces the table (the '
                             'partitions it touches, when partitioned) atomically. With '
                             '--output_path the same, by manifest files in '
                             '<output_path>/_loads.')
    parser.add_argument('--changed_files', default='error',
                        help=f'A file changed since it was loaded: {"|".join(CHANGED_FILES)}. '
                             'error: the run fails before committing anything; skip: left as '
                             'loaded; reload: its earlier rows and dead letters are replaced '
                             '(needs source_file_column; with --output_path its earlier files '
                             'are superseded).')
    parser.add_argument('--load_manifest_table', default=None,
                        help='BigQuery table recording each file loaded (path, identity, '
                             'rows, dead letters, run id, time). Defaults to '
                             '<output_table>_loads.')
    parser.add_argument('--source_file_column', default=None,
                        help='Add a STRING column of this name to the rows table holding each '
                             "row's input file (what --changed_files reload replaces by).")


def _check_column(name, schema):
  if not name:
    return None
  if not name.replace('_', '').isalnum() or name[0].isdigit():
    raise ConfigError(f'--source_file_column: {name!r} is not a column name (letters, digits '
                      'and _, not starting with a digit)')
  if any(f.name.lower() == name.lower() for f in schema.fields):
    raise ConfigError(f'--source_file_column: the schema already has a column {name!r}')
  return name


def load_config(options, schema, output_table, default_mode=None):
  """LoadOptions -> LoadConfig for rows written to ``output_table`` (raises ConfigError
  naming the option). ``schema``: the rows schema before the source file column;
  ``default_mode``: the mode without ``--load_mode`` (None: incremental)."""
  opts = options.view_as(LoadOptions)
  manifest = opts.load_manifest_table or default_manifest_table(output_table)
  convert('load_manifest_table', parse_table_spec, manifest, 'load_manifest_table')
  if manifest.replace(':', '.') == output_table.replace(':', '.'):
    raise ConfigError('--load_manifest_table must be another table than --output_table')
  run_id = new_run_id()
  return convert_by_argument(
      _LOAD_OPTIONS, 'load_mode', LoadConfig, manifest_table=manifest,
      mode=opts.load_mode or default_mode or 'incremental', changed_files=opts.changed_files,
      staging_location=staging_folder(temp_location_of(options), run_id), run_id=run_id,
      retry_budget_seconds=retry_budget_of(options),
      project=options.view_as(GoogleCloudOptions).project,
      source_file_column=_check_column((opts.source_file_column or '').strip(), schema))
