"""Masking keys: env / file / Secret Manager (local fake), never argv, never shown."""

import base64
import logging
import pickle

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.options.masking import MaskingOptions, masking_config
from beam_pipelines.options.values import ConfigError
from beam_pipelines.transforms.masking import MaskingKey, parse_key_source
from beam_pipelines.transforms.masking import keys as keys_module

SECRET = 'a-very-secret-key-value-0123456789'
SCHEMA = [{'name': 'id', 'type': 'STRING'}]
POLICY = {'default': 'drop', 'fields': {'id': 'hmac'}}


def test_env_source(monkeypatch):
  monkeypatch.setenv('MASK_KEY_T', SECRET)
  key = MaskingKey.load('env:MASK_KEY_T')
  assert key.material == SECRET.encode()
  assert key.key_id == keys_module.key_fingerprint(SECRET.encode())
  assert SECRET not in repr(key) and SECRET not in str(key)


def test_file_source_strips_one_newline_and_reads_base64(tmp_path):
  path = tmp_path / 'key'
  path.write_bytes(SECRET.encode() + b'\n')
  assert MaskingKey.load(f'file:{path}').material == SECRET.encode()
  raw = bytes(range(32))
  path.write_text('base64:' + base64.b64encode(raw).decode())
  assert MaskingKey.load(f'file:{path}').material == raw


@pytest.mark.parametrize('source,message', [
    ('env:MASK_KEY_UNSET_T', 'environment variable MASK_KEY_UNSET_T is not set'),
    ('file:/no/such/key', 'cannot read masking key file /no/such/key'),
    ('env:not a name', 'env: key source needs a variable name'),
    ('secret:projects/p/secrets/s', 'secret: key source must be projects/P/secrets/S/versions/V'),
])
def test_bad_sources_name_the_source(monkeypatch, source, message):
  monkeypatch.delenv('MASK_KEY_UNSET_T', raising=False)
  with pytest.raises(ValueError, match=message):
    MaskingKey.load(source)


def test_short_key_is_refused_without_showing_it(monkeypatch):
  monkeypatch.setenv('MASK_KEY_T', 'short-key')
  with pytest.raises(ValueError) as info:
    MaskingKey.load('env:MASK_KEY_T')
  assert 'too short (9 bytes' in str(info.value) and 'short-key' not in str(info.value)


@pytest.mark.parametrize('value', [SECRET, 'raw:' + SECRET, 'base64:' + SECRET])
def test_a_key_given_directly_is_refused_and_not_echoed(value):
  with pytest.raises(ValueError) as info:
    parse_key_source(value)
  assert SECRET not in str(info.value)
  assert 'never accepted on the command line' in str(info.value)


def test_key_on_the_command_line_is_refused_by_the_options_and_not_echoed(tmp_path, capsys):
  policy = tmp_path / 'p.json'
  policy.write_text('{"default": "drop", "fields": {"id": "hmac"}}')
  options = PipelineOptions(['--masking_policy', str(policy), '--masking_key_source', SECRET])
  with pytest.raises(ConfigError) as info:
    masking_config(options, SCHEMA)
  assert str(info.value).startswith('--masking_key_source:')
  assert SECRET not in str(info.value)
  # the only key-related option is a *source*: there is no flag that takes key material
  import argparse
  parser = argparse.ArgumentParser()
  MaskingOptions._add_argparse_args(parser)  # pylint: disable=protected-access
  flags = {a.dest for a in parser._actions if a.dest != 'help'}  # pylint: disable=protected-access
  assert flags == {'masking_policy', 'masking_key_source', 'dead_letter_payload', 'erase_list',
                   'erase_list_refresh_seconds', 'subject_field'}


class _FakeSecretClient:
  """Stands in for SecretManagerServiceClient (no network here)."""
  versions = {'projects/p/secrets/s/versions/3': SECRET.encode(),
              'projects/p/secrets/s/versions/4': b'rotated-key-0123456789abcdef'}
  calls = []

  def access_secret_version(self, request):
    name = request['name']
    _FakeSecretClient.calls.append(name)
    if name.endswith('/latest'):
      name = name.rsplit('/', 1)[0] + '/4'
    if name not in self.versions:
      raise KeyError(f'NotFound {name}')

    class Payload:
      data = self.versions[name]

    class Response:
      pass
    response = Response()
    response.name = name
    response.payload = Payload()
    return response


@pytest.fixture
def fake_secret_manager():
  _FakeSecretClient.calls = []
  keys_module.set_secret_client_factory(_FakeSecretClient)
  yield _FakeSecretClient
  keys_module.set_secret_client_factory(None)


def test_secret_manager_source_with_a_fake_client(fake_secret_manager):
  key = MaskingKey.load('secret:projects/p/secrets/s/versions/3')
  assert key.material == SECRET.encode() and key.version == '3'
  latest = MaskingKey.load('secret:projects/p/secrets/s/versions/latest')
  assert latest.version == '4' and latest.source == 'secret:projects/p/secrets/s/versions/4'
  assert latest.key_id != key.key_id  # a rotation is visible in the key id
  with pytest.raises(ValueError, match='cannot access masking key secret projects/p/secrets/s/'
                                       'versions/9'):
    MaskingKey.load('secret:projects/p/secrets/s/versions/9')


def test_secret_key_is_not_pickled_and_is_refetched(fake_secret_manager):
  key = MaskingKey.load('secret:projects/p/secrets/s/versions/3')
  blob = pickle.dumps(key)
  assert SECRET.encode() not in blob
  restored = pickle.loads(blob)
  fake_secret_manager.calls = []
  assert restored.material == SECRET.encode()
  assert fake_secret_manager.calls == ['projects/p/secrets/s/versions/3']


def test_env_key_travels_pickled_but_is_never_logged(monkeypatch, caplog):
  monkeypatch.setenv('MASK_KEY_T', SECRET)
  with caplog.at_level(logging.DEBUG):
    key = MaskingKey.load('env:MASK_KEY_T')
  assert key.key_id in caplog.text and SECRET not in caplog.text
  assert pickle.loads(pickle.dumps(key)).material == SECRET.encode()


def test_without_the_client_library_secret_sources_fail_clearly(monkeypatch):
  import builtins
  real_import = builtins.__import__

  def no_secretmanager(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
    if name == 'google.cloud' and fromlist and 'secretmanager' in fromlist:
      raise ImportError('no secretmanager')
    return real_import(name, globals, locals, fromlist, level)
  monkeypatch.setattr(builtins, '__import__', no_secretmanager)
  with pytest.raises(ValueError, match='need google-cloud-secret-manager'):
    MaskingKey.load('secret:projects/p/secrets/s/versions/1')
