"""The local half of continuous ingestion: ``files_to_bigquery --input_notifications S
--watch_interval 30s`` polls ``--input`` from this process and publishes a Cloud Storage
style notification (``OBJECT_FINALIZE``, JSON_API_V1) to the topic of subscription ``S`` for
each file that appeared or changed, so a laptop folder (or a bucket without a notification
configuration) feeds the same streaming job a bucket's notifications would.

A file modified less than one interval ago may still be being written: it is published at a
later poll, once it has settled. The files present at start are not published: the job's own
catch-up match offers them (``ReadFileNotifications``), and the manifest decides what is
loaded, so a file published twice is still loaded once.
"""

import datetime
import json
import logging
import threading
import time

from apache_beam.io.filesystems import FileSystems

from beam_pipelines.transforms.loads.manifest import file_identity

_LOG = logging.getLogger(__name__)


def notification(metadata):
  """(payload bytes, attributes) of a Cloud Storage style notification for a local file:
  no ``bucketId`` (the object id is the local path)."""
  mtime = float(metadata.last_updated_in_seconds or 0)
  updated = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).isoformat()
  generation = str(int(mtime * 1e6))
  payload = {'kind': 'storage#object', 'name': metadata.path, 'bucket': '',
             'size': str(metadata.size_in_bytes), 'updated': updated,
             'generation': generation}
  attributes = {'eventType': 'OBJECT_FINALIZE', 'payloadFormat': 'JSON_API_V1',
                'objectId': metadata.path, 'objectGeneration': generation}
  return json.dumps(payload).encode('utf-8'), attributes


class LocalNotifier:
  """Polls ``pattern`` every ``interval_seconds`` and publishes a notification per new or
  changed settled file to the topic ``subscription`` reads from. ``prime()`` (before the job
  starts: its catch-up covers those) remembers the files present; ``start()`` / ``stop()``
  run the polls in a thread."""

  def __init__(self, pattern, subscription, interval_seconds):
    self._pattern = pattern
    self._subscription = subscription
    self._interval = interval_seconds
    self._seen = {}
    self._stop = threading.Event()
    self._thread = None
    self.published = 0

  def _settled(self):
    now = time.time()
    try:
      found = FileSystems.match([self._pattern])[0].metadata_list
    except Exception as e:  # pylint: disable=broad-except  (no such folder yet)
      _LOG.debug('no match for %s: %s', self._pattern, e)
      return []
    return [m for m in found
            if now - float(m.last_updated_in_seconds or 0) >= self._interval]

  def prime(self):
    from google.cloud import pubsub_v1
    subscriber = pubsub_v1.SubscriberClient()
    try:
      self._topic = subscriber.get_subscription(subscription=self._subscription).topic
    finally:
      subscriber.close()
    self._publisher = pubsub_v1.PublisherClient()
    self._seen = {m.path: file_identity(m) for m in self._settled()}

  def poll(self):
    """Publishes the files that settled or changed since the last poll; returns how many."""
    futures = []
    for metadata in self._settled():
      identity = file_identity(metadata)
      if self._seen.get(metadata.path) == identity:
        continue
      payload, attributes = notification(metadata)
      futures.append((metadata.path, identity,
                      self._publisher.publish(self._topic, payload, **attributes)))
    for path, identity, future in futures:
      future.result(timeout=60)  # raises: not remembered, published again at the next poll
      self._seen[path] = identity
    self.published += len(futures)
    return len(futures)

  def _loop(self):
    while not self._stop.wait(self._interval):
      try:
        self.poll()
      except Exception as e:  # pylint: disable=broad-except  (Pub/Sub briefly away)
        _LOG.warning('publishing file notifications failed (retried next poll): %s', e)

  def start(self):
    self._thread = threading.Thread(target=self._loop, name='local-notifier', daemon=True)
    self._thread.start()

  def stop(self):
    self._stop.set()
    if self._thread is not None:
      self._thread.join(timeout=30)
