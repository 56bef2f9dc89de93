"""Cloud Storage notifications as ``ReadFileNotifications`` reads them (the JSON_API_V1 and
NONE payload formats of https://cloud.google.com/storage/docs/pubsub-notifications), the
notifications the local notifier publishes, and the argument checks of the configs."""

import json

import pytest
from apache_beam.io.filesystem import FileMetadata

from beam_pipelines.runtime.notify_local import notification
from beam_pipelines.runtime.watching import WatchPlan, watch_plan
from beam_pipelines.transforms.loads import CommitWindows, FileNotificationConfig
from beam_pipelines.transforms.loads.notifications import notified_path

# A notification as Cloud Storage publishes it (JSON_API_V1): attributes, and the object
# resource as payload.
GCS_ATTRIBUTES = {'notificationConfig': 'projects/_/buckets/landing/notificationConfigs/1',
                  'eventType': 'OBJECT_FINALIZE', 'payloadFormat': 'JSON_API_V1',
                  'bucketId': 'landing', 'objectId': 'events/2026/a.jsonl',
                  'objectGeneration': '1733340000123456',
                  'eventTime': '2026-12-04T20:00:00.123456Z'}
GCS_PAYLOAD = json.dumps({'kind': 'storage#object', 'name': 'events/2026/a.jsonl',
                          'bucket': 'landing', 'generation': '1733340000123456',
                          'size': '1234', 'updated': '2026-12-04T20:00:00.123Z'}).encode()


def test_a_cloud_storage_notification_names_its_object():
  assert notified_path(GCS_ATTRIBUTES, GCS_PAYLOAD) == (
      'OBJECT_FINALIZE', 'gs://landing/events/2026/a.jsonl')


def test_the_payload_names_the_object_when_attributes_do_not():
  attributes = {'eventType': 'OBJECT_FINALIZE'}
  assert notified_path(attributes, GCS_PAYLOAD) == (
      'OBJECT_FINALIZE', 'gs://landing/events/2026/a.jsonl')


def test_a_none_payload_and_other_events():
  attributes = dict(GCS_ATTRIBUTES, eventType='OBJECT_DELETE', payloadFormat='NONE')
  assert notified_path(attributes, b'') == ('OBJECT_DELETE', 'gs://landing/events/2026/a.jsonl')
  assert notified_path({'eventType': 'OBJECT_FINALIZE'}, b'not json') == (
      'OBJECT_FINALIZE', None)


def test_the_local_notifier_publishes_what_the_reader_reads_as_a_local_path():
  payload, attributes = notification(FileMetadata('/data/in/a.jsonl', 12, 1_700_000_000.5))
  assert attributes['eventType'] == 'OBJECT_FINALIZE' and 'bucketId' not in attributes
  assert json.loads(payload)['size'] == '12'
  assert notified_path(attributes, payload) == ('OBJECT_FINALIZE', '/data/in/a.jsonl')


@pytest.mark.parametrize('kwargs, message', [
    ({'subscription': 'landing'}, 'subscription must look like'),
    ({'pattern': ''}, 'pattern must be'),
    ({'commit_interval_seconds': 0}, 'commit_interval_seconds must be'),
    ({'direct_runner_pull_timeout': 31}, 'direct_runner_pull_timeout must be'),
])
def test_bad_notification_configs_name_the_argument(kwargs, message):
  args = dict({'subscription': 'projects/p/subscriptions/s', 'pattern': 'gs://b/*.jsonl'},
              **kwargs)
  with pytest.raises(ValueError, match=message):
    FileNotificationConfig(**args)


@pytest.mark.parametrize('bad', [0, -1, float('inf'), True, '1s'])
def test_commit_windows_need_a_positive_interval(bad):
  with pytest.raises(ValueError, match='interval_seconds'):
    CommitWindows(bad)


def test_streaming_takes_duration_without_watch_interval():
  assert watch_plan(['--duration', '5', '--x', 'y'], streaming=True) == (
      WatchPlan(None, 5.0), ['--x', 'y'])
  assert watch_plan(['--watch_interval', '2s'], streaming=True)[0] == WatchPlan(2.0, None)
