"""Exactly-once file loads: each input file loaded once across runs, a run's rows, dead
letters and manifest entries committed together.

- ``config``: ``LoadConfig`` (``--load_mode``, ``--changed_files``, the manifest table).
- ``manifest``: the manifest table's schema, file identities, what the manifest says of a file.
- ``select``: ``SelectFilesToLoad``: matched files -> the files this run loads.
- ``stage``: ``StageRowsForCommit``: rows -> staging files.
- ``sql``: the commit's transaction.
- ``commit``: ``LoadCommit`` and ``CommitLoads``: staged files + manifest entries -> one commit.
- ``stores``: where ``SelectFilesToLoad`` reads the manifest (table or lake manifest files).
- ``lake_manifest``: a lake sink's manifest files, ``committed_files`` (what readers read).
- ``notifications``: ``ReadFileNotifications``: Cloud Storage notifications -> files to load,
  in commit windows (continuous ingestion).
- ``windows``: ``CommitWindows``: the processing-time windows a streaming commit groups by.
- ``lake_commit``: ``LakeCommit`` and ``CommitLakeLoads``: a lake run's files -> one manifest.
"""

from beam_pipelines.transforms.loads.commit import CommitLoads, CommitOutcome, LoadCommit
from beam_pipelines.transforms.loads.config import (CHANGED_FILES, LOAD_MODES, LoadConfig,
                                                    default_manifest_table, new_run_id)
from beam_pipelines.transforms.loads.lake_commit import CommitLakeLoads, LakeCommit
from beam_pipelines.transforms.loads.lake_manifest import (committed_files, committed_outputs,
                                                           manifest_folder)
from beam_pipelines.transforms.loads.manifest import manifest_schema
from beam_pipelines.transforms.loads.notifications import (FileNotificationConfig,
                                                           ReadFileNotifications)
from beam_pipelines.transforms.loads.select import (ChangedFileError, FilesToLoad,
                                                    SelectFilesToLoad)
from beam_pipelines.transforms.loads.stage import StageRowsForCommit
from beam_pipelines.transforms.loads.windows import CommitWindows

__all__ = ['CHANGED_FILES', 'ChangedFileError', 'CommitLakeLoads', 'CommitLoads',
           'CommitOutcome', 'CommitWindows', 'FileNotificationConfig', 'FilesToLoad', 'LOAD_MODES', 'LakeCommit', 'LoadCommit',
           'LoadConfig', 'ReadFileNotifications', 'SelectFilesToLoad', 'StageRowsForCommit', 'committed_files', 'committed_outputs',
           'default_manifest_table', 'manifest_folder', 'manifest_schema', 'new_run_id']
