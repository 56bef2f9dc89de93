"""JSON Lines: the file reader (one RawMessage per line) and the JSON payload decoder.

The ``json`` decoder also reads Pub/Sub JSON bodies and the JSON payloads the Avro and
Parquet readers make of their records.
"""

import json
import time

import orjson

from beam_pipelines.transforms.core.messages import RawMessage
from beam_pipelines.transforms.read.file_splits import FileRange
from beam_pipelines.transforms.read.formats.base import (UTF8_BOM, DecodeError, FileReaderFn, iter_lines,
                                          open_decompressed)


def decode_json(payload):
  """Decodes one JSON document.

  orjson is the fast path. It rejects a few inputs the standard library reads (NaN and
  Infinity tokens, integers beyond 64 bits, lone surrogates, deep nesting); those are
  re-read with the standard library so validation can name the offending *field* (an
  out-of-range integer in ``amount`` is ``out_of_range:amount``, not ``invalid_json``).
  """
  try:
    return orjson.loads(payload)
  except orjson.JSONDecodeError as fast_error:
    fast_reason = str(fast_error)
  if not payload.strip():
    raise DecodeError('empty_record', 'the record is empty')
  try:
    text = payload.decode('utf-8')
  except UnicodeDecodeError as e:
    raise DecodeError('invalid_encoding', f'payload is not valid UTF-8: {e.reason} at byte '
                      f'{e.start}') from None
  if text.startswith('\ufeff'):
    raise DecodeError('invalid_json', 'payload starts with a byte order mark (BOM)')
  try:
    return json.loads(text)
  except RecursionError:
    raise DecodeError('nesting_too_deep', 'JSON nested too deeply to read') from None
  except ValueError:
    raise DecodeError('invalid_json', f'not valid JSON: {fast_reason}') from None


class ReadJsonLinesFn(FileReaderFn):
  """One RawMessage per line of a file; source id ``path:line`` (1-based).

  Takes a whole file (a ``ReadableFile``, or a whole-file ``FileRange``) or a range of one
  (a ``FileRange`` from ``beam_pipelines.transforms.read.file_splits``: the lines that start in
  ``[start, end)``, numbered from its ``first_line``).
  """
  format = 'jsonl'

  def process(self, element):
    if isinstance(element, FileRange):
      path, start, end, line_number = element.path, element.start, element.end, element.first_line
    else:
      path, start, end, line_number = element.metadata.path, 0, None, 1
    attributes = {'file': path, 'format': 'jsonl'}
    line_number -= 1  # the number of the last line read
    try:
      with open_decompressed(path) as handle:
        if start:
          handle.seek(start)
        else:
          self._files.inc()
        position = start
        for line in iter_lines(handle):
          if end is not None and position >= end:
            break
          position += len(line)
          line_number += 1
          if line_number == 1 and line.startswith(UTF8_BOM):
            line = line[len(UTF8_BOM):]  # a BOM marks the file, not the first record
          if line.endswith(b'\n'):
            line = line[:-2] if line.endswith(b'\r\n') else line[:-1]
          self._records.inc()
          yield RawMessage(line, attributes, f'{path}:{line_number}', time.time(), None)
    except Exception as e:  # pylint: disable=broad-except
      # A file that cannot be (fully) read is reported, never silently skipped.
      yield self._failed(path, attributes, 'unreadable_file', line_number + 1,
                         f'after line {line_number}', e)
