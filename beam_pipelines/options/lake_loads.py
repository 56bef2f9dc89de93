"""The load mode of a lake sink run (``files_to_bigquery --output_path``) and its typed
config: the ``LoadOptions`` flags (``--load_mode``, ``--changed_files``), committed through
manifest files at ``<output_path>/_loads`` instead of a BigQuery table
(``beam_pipelines.transforms.loads.lake_manifest``).
"""

from beam_pipelines.options.loads import LoadOptions
from beam_pipelines.options.values import ConfigError, convert_by_argument
from beam_pipelines.transforms.loads.config import LoadConfig, new_run_id
from beam_pipelines.transforms.loads.lake_manifest import manifest_folder

# LoadConfig's errors start with the argument they are about -> the option that sets it.
_LAKE_LOAD_OPTIONS = {'mode': 'load_mode', 'changed_files': 'changed_files',
                      'run_id': 'load_mode'}


def lake_load_config(options, lake, dead_letters, streaming=False):
  """LoadOptions -> LoadConfig of a lake sink run writing to ``lake`` (a LakeSinkConfig),
  its manifest files at ``<output_path>/_loads`` (raises ConfigError naming the option).
  A committing mode needs its dead letters in files (they are committed with the rows) and a
  batch run; ``--output_shards`` is for ``--load_mode append``."""
  opts = options.view_as(LoadOptions)
  if opts.load_manifest_table:
    raise ConfigError('--load_manifest_table is not used with --output_path: the manifest '
                      'is files at <output_path>/_loads')
  if opts.source_file_column:
    raise ConfigError('--source_file_column is for --output_table (a lake run\'s manifest '
                      'lists the files holding each input file\'s rows)')
  config = convert_by_argument(
      _LAKE_LOAD_OPTIONS, 'load_mode', LoadConfig, manifest_table=None,
      manifest_path=manifest_folder(lake.path), mode=opts.load_mode or 'incremental',
      changed_files=opts.changed_files, run_id=new_run_id())
  if not config.commits:
    return config
  why = f'--load_mode {config.mode} with --output_path commits '
  if streaming:
    raise ConfigError(why + 'a batch run\'s files once; a streaming run uses --load_mode '
                      'append')
  if dead_letters.kind != 'files':
    raise ConfigError(why + 'the dead letters with the rows, as files: use --dead_letter_sink '
                      'files (the default with --output_path) or --load_mode append')
  if lake.num_shards:
    raise ConfigError(why + 'one set of files per input file; --output_shards is for '
                      '--load_mode append')
  return config
