"""ReadFileNotifications: Cloud Storage object notifications (Pub/Sub) become the files to
load, in commit windows: the unbounded source of continuous file ingestion.

A bucket with a notification configuration (``gcloud storage buckets notifications create
gs://B --topic=T --event-types=OBJECT_FINALIZE --payload-format=json``) publishes one
message per event. A message's attributes say what happened (``eventType``) to which
object (``bucketId``, ``objectId``, ``objectGeneration``); with ``JSON_API_V1`` its payload is
the object's resource (``bucket``, ``name``, ``size``, ``updated``, ``generation``). Only
``OBJECT_FINALIZE`` (a new object or a new generation) names a file to load; other events
are counted (``notifications/ignored_events``) and ignored, and so are objects that the
input pattern does not match (``notifications/not_matching``). A notification with an empty
bucket names a local path in ``objectId`` (what ``files_to_bigquery --watch_interval`` with
``--input_notifications`` publishes for a local folder).

Each named file is looked up (one metadata call): its size and modification time make the
identity the manifest compares, the same one batch runs match, so a file loaded by a batch
run is not loaded again by a notification and vice versa. A file that is gone or cannot be
looked up becomes a dead letter (stage ``read``, errorType ``missing_file``), never a
failure. At start the pattern is also matched once (the *catch-up*): files whose
notifications were acknowledged but never committed (a killed run), or published while no
subscription existed, are offered again; the manifest skips the loaded ones.

Files are stamped with the time they arrive (processing time, not the publish time: after
a restart a backlog of old notifications would be behind the watermark and dropped as
late) and windowed into fixed commit windows of ``commit_interval_seconds``; the same file
offered twice in a window (a duplicated notification, a notification and the catch-up) is
offered once. ``SelectFilesToLoad`` then skips what the manifest lists.
"""

import json
import re
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystem import FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.beam_patches.direct_runner_pubsub_pull import (
  set_direct_runner_pull_timeout)
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG,
                                                         FallibleResult, make_dead_letter)
from beam_pipelines.transforms.loads.windows import CommitWindows
from beam_pipelines.transforms.read.files import FileSourceConfig, match_files
from beam_pipelines.transforms.read.pubsub import is_dataflow

FINALIZE = 'OBJECT_FINALIZE'


@dataclass(frozen=True)
class FileNotificationConfig:
  """Where file notifications come from and how they are grouped into commits.

  Attributes:
    subscription: ``projects/P/subscriptions/S`` receiving the bucket's notifications.
    pattern: the input pattern; only files it matches are loaded (also matched once at
      start: the catch-up).
    commit_interval_seconds: the length of a commit window (processing time).
    direct_runner_pull_timeout: seconds an idle pull waits on the DirectRunner.
  """
  subscription: str
  pattern: str
  commit_interval_seconds: float = 60.0
  direct_runner_pull_timeout: float = 1.0

  def __post_init__(self):
    if not (isinstance(self.subscription, str) and self.subscription.startswith('projects/')
            and '/subscriptions/' in self.subscription):
      raise ValueError(f'subscription must look like projects/P/subscriptions/S, got '
                       f'{self.subscription!r}')
    if not self.pattern:
      raise ValueError('pattern must be a non-empty path or glob')
    if not 0 < self.commit_interval_seconds < float('inf'):
      raise ValueError('commit_interval_seconds must be a number of seconds > 0, got '
                       f'{self.commit_interval_seconds!r}')
    if not 0 < self.direct_runner_pull_timeout <= 30:
      raise ValueError('direct_runner_pull_timeout must be in (0, 30] seconds, got '
                       f'{self.direct_runner_pull_timeout!r}')


def notified_path(attributes, payload=b''):
  """(event type, path) of a notification: ``gs://bucket/object``, or the local path of a
  notification with an empty bucket; the JSON payload is used when attributes lack them."""
  resource = {}
  if payload:
    try:
      resource = json.loads(payload)
    except ValueError:
      resource = {}
    resource = resource if isinstance(resource, dict) else {}
  event = attributes.get('eventType', '')
  bucket = attributes.get('bucketId', resource.get('bucket', ''))
  name = attributes.get('objectId', resource.get('name', ''))
  if not name:
    return event, None
  return event, (f'gs://{bucket}/{name}' if bucket else name)


class _NotifiedFileFn(beam.DoFn):
  """PubsubMessage -> the FileMetadata of the file it names (stamped with the time it
  arrives), or a dead letter; other events and paths are counted."""

  def __init__(self, pattern, pipeline_name):
    self._pattern = pattern
    self._pipeline_name = pipeline_name
    self._counters = {name: Metrics.counter('notifications', name) for name in (
        'received', 'ignored_events', 'not_matching', 'missing_files', 'files')}

  def setup(self):
    self._matches = re.compile(FileSystem.translate_pattern(self._pattern)).match

  def process(self, message):
    self._counters['received'].inc()
    attributes = dict(message.attributes or {})
    event, path = notified_path(attributes, message.data)
    if event != FINALIZE:
      self._counters['ignored_events'].inc()
      return
    if path is None or not self._matches(path):
      self._counters['not_matching'].inc()
      return
    try:
      found = FileSystems.match([path])[0].metadata_list
    except Exception as e:  # pylint: disable=broad-except  (gone, no permission, bad name)
      found, reason = [], f'{type(e).__name__}: {e}'
    else:
      reason = 'no such file'
    exact = [m for m in found if m.path == path]
    if not exact:
      self._counters['missing_files'].inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          message.data or b'', stage='read', error_type='missing_file',
          message=f'notified file {path} cannot be read: {reason[:300]}',
          source_id=f'{path}:0', attributes=attributes, pipeline=self._pipeline_name))
      return
    self._counters['files'].inc()
    yield exact[0]


def _first(keyed):
  return next(iter(keyed[1]))


class ReadFileNotifications(beam.PTransform):
  """PBegin in; a ``FallibleResult`` out: ``rows`` are the ``FileMetadata`` of the files to
  offer ``SelectFilesToLoad`` (each once per commit window), ``dead_letters`` name the
  notified files that cannot be read. See the module docstring. Counters
  ``notifications/received``, ``ignored_events``, ``not_matching``, ``missing_files``,
  ``files``.

  Example::

      files = p | ReadFileNotifications(FileNotificationConfig(
          'projects/p/subscriptions/landing', 'gs://landing/events/*.jsonl', 30))
  """

  def __init__(self, config, pipeline_name: Optional[str] = None, label=None):
    super().__init__(label)
    if not isinstance(config, FileNotificationConfig):
      raise ValueError(f'config must be a FileNotificationConfig, got {type(config).__name__}')
    self._config = config
    self._pipeline_name = pipeline_name

  def expand(self, pbegin):
    config = self._config
    if not is_dataflow(pbegin.pipeline):
      set_direct_runner_pull_timeout(config.direct_runner_pull_timeout)
    notified = (pbegin
                | 'ReadFromPubSub' >> beam.io.ReadFromPubSub(
                    subscription=config.subscription, with_attributes=True)
                | 'NotifiedFiles' >> beam.ParDo(_NotifiedFileFn(
                    config.pattern, self._pipeline_name)).with_outputs(
                        DEAD_LETTER_TAG, main=ROWS_TAG))
    caught_up = pbegin | 'CatchUp' >> match_files(
        FileSourceConfig(config.pattern, allow_empty_match=True))
    interval = config.commit_interval_seconds
    files = ((notified[ROWS_TAG], caught_up)
             | 'AllFiles' >> beam.Flatten()
             | 'IntoCommitWindows' >> CommitWindows(interval)
             | 'KeyByIdentity' >> beam.Map(
                 lambda m: ((m.path, m.size_in_bytes, m.last_updated_in_seconds), m))
             | 'OncePerWindow' >> beam.GroupByKey()
             | 'First' >> beam.Map(_first))
    dead_letters = notified[DEAD_LETTER_TAG] | 'DeadLettersIntoCommitWindows' >> \
        CommitWindows(interval)
    return FallibleResult(rows=files, dead_letters=dead_letters)
