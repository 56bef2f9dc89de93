"""Shared helpers for the format tests: run ReadEvents + ParseAndValidate on FnApiRunner."""

import glob
import json
import os

import apache_beam as beam

from beam_pipelines.runtime.summary import collect_counters
from beam_pipelines.transforms.read.events import ReadEvents
from beam_pipelines.transforms.validate.parse import ParseAndValidate, ParseConfig


def read_json_lines(pattern):
  out = []
  for path in sorted(glob.glob(pattern)):
    with open(path, encoding='utf-8') as f:
      out.extend(json.loads(line) for line in f if line.strip())
  return out


def run_chain(out_dir, source, schema, parse=None, messages=None):
  """Runs ReadEvents (or Create(messages)) + ParseAndValidate; returns
  (rows, dead letters, counters). Outputs go through files so they can be asserted on
  with ordinary pytest asserts."""
  out_dir = str(out_dir)
  os.makedirs(out_dir, exist_ok=True)
  with beam.Pipeline(runner='FnApiRunner') as p:
    if messages is not None:
      raw = p | 'Create' >> beam.Create(messages)
      read_dead = p | 'NoReadDead' >> beam.Create([])
    else:
      read = p | 'Read' >> ReadEvents(source)
      raw, read_dead = read.rows, read.dead_letters
    parse = parse or ParseConfig(format=source.payload_format)
    parsed = raw | 'Parse' >> ParseAndValidate(schema, parse)
    dead = (read_dead, parsed.dead_letters) | 'Flatten' >> beam.Flatten()
    _ = (parsed.rows | 'RowsJson' >> beam.Map(json.dumps, sort_keys=True)
         | 'WriteRows' >> beam.io.WriteToText(os.path.join(out_dir, 'rows')))
    _ = (dead | 'DeadJson' >> beam.Map(json.dumps, sort_keys=True)
         | 'WriteDead' >> beam.io.WriteToText(os.path.join(out_dir, 'dead')))
  counters = collect_counters(p.result)
  return (read_json_lines(os.path.join(out_dir, 'rows*')),
          read_json_lines(os.path.join(out_dir, 'dead*')), counters)


def by_source(dead_letters):
  out = {}
  for d in dead_letters:
    assert d['sourceId'] not in out, f'two dead letters for {d["sourceId"]}'
    out[d['sourceId']] = d
  return out


def attributes(dead_letter):
  return {a['key']: a['value'] for a in dead_letter['attributes']}
