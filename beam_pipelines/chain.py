"""The one transform chain every pipeline of the suite builds; only the source differs.

    [MatchFiles -> SelectFiles] -> ReadEvents -> ParseAndValidate -> [SchemaDrift] -> [MaskPII]
        -> [Enrich] -> [ApplyUserFunction] -> [CheckQuality -> quality table]
        -> rows sink (BigQuery or files)  \\-> [WindowAndAggregate -> sink]
    dead letters of every step -> Flatten -> [MaskDeadLetters] -> WriteDeadLetters
    [quality scores + dead letters -> EvaluateSlas -> alerts table, topic, webhook]
    [CommitLoads]

With ``--load_mode`` incremental or replace (files into BigQuery), ``SelectFiles`` picks the
files the manifest does not list yet, every BigQuery sink stages its rows instead of writing
them, and ``CommitLoads`` commits the run's tables and manifest entries in one transaction
(alerts are not part of the commit: they are written and delivered as they are raised).
With ``--output_path`` the file sinks write under the run's folder and ``CommitLoads``
writes the run's manifest file instead (``beam_pipelines.transforms.loads.lake_commit``).

``files_to_bigquery`` and ``pubsub_to_bigquery`` both call ``build_chain`` with a
``beam_pipelines.config.PipelineConfig``; a test runs the same events through both and
compares what lands in BigQuery. Step labels are stable (Dataflow ``--update`` matches steps
by name); optional steps exist only when configured (``beam_pipelines.chain_steps``).
"""

from typing import NamedTuple, Optional

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from beam_pipelines import chain_loads, chain_steps
from beam_pipelines.config import PipelineConfig
from beam_pipelines.transforms.core.batches import Unbatch, is_timed
from beam_pipelines.transforms.validate import ParseAndValidate
from beam_pipelines.transforms.windowing import WindowAndAggregate
from beam_pipelines.transforms.write import WriteDeadLetters, WriteRowsToBigQuery, WriteRowsToFiles


class PipelineOutputs(NamedTuple):
  """The PCollections tests and callers may assert on."""
  rows: beam.PCollection
  dead_letters: beam.PCollection
  unwritable_dead_letters: beam.PCollection
  aggregates: Optional[beam.PCollection] = None
  alerts: Optional[beam.PCollection] = None


def _write(rows, label, sink, lake, schema, pipeline_name, metric_name='rows',
           schema_evolves=False, commit=None):
  if lake is not None:
    return rows | label >> WriteRowsToFiles(schema, lake, pipeline_name=pipeline_name,
                                            metric_name=metric_name, commit=commit)
  return rows | label >> WriteRowsToBigQuery(schema, sink, pipeline_name=pipeline_name,
                                             metric_name=metric_name,
                                             schema_evolves=schema_evolves, commit=commit)


def build_chain(p, cfg: PipelineConfig):
  """Adds the chain for ``cfg`` to ``p``; returns the PipelineOutputs."""
  if not isinstance(cfg, PipelineConfig):
    raise ValueError(f'cfg must be a PipelineConfig, got {type(cfg).__name__}')
  name = cfg.pipeline_name
  # Batched (--batch_size): records travel in batches (lists) from the read through the
  # row-by-row steps (parse, validate, mask, enrich, user function), and one by one from
  # quality on; outputs are the same (transforms/core/batches.py). Pub/Sub's batches are
  # timed: each record keeps its own timestamp, and gets it back when unbatched.
  batched = cfg.batched
  timed = is_timed(batched)
  read = chain_loads.read_events(p, cfg, batched=batched)
  commit = read.commit
  parse = chain_steps.drift_aware_parse_config(cfg.parse, cfg.quality)
  # with_source_ids: the dead letters of every later step name their record.
  parsed = read.rows | 'ParseAndValidate' >> ParseAndValidate(
      cfg.schema, parse, pipeline_name=name, with_source_ids=True, batched=batched)
  parsed = chain_steps.handle_drift(parsed, cfg.quality, cfg.schema, parse, name,
                                    batched=batched)
  masked = chain_steps.mask_rows(parsed.rows, cfg.masking, pipeline_name=name,
                                 batched=batched)
  rows = masked.rows
  if batched and not chain_steps.enrich_takes_batches(cfg.enrichment):
    rows, batched = rows | 'UnbatchForEnrich' >> Unbatch(timed), False
  enriched = chain_steps.enrich(rows, cfg.enrichment, batched=batched)
  applied = chain_steps.apply_udf(enriched.rows, cfg.udf, pipeline_name=name, batched=batched)
  rows = applied.rows
  if batched:
    rows = rows | 'Unbatch' >> Unbatch(timed)
  checked = chain_steps.check_quality(
      rows, cfg.quality, name, commit=commit,
      scores_window=lambda scores: chain_loads.in_commit_windows(
          scores, 'ScoresToCommitWindows', cfg))
  rows = checked.rows
  dead = [read.dead_letters, parsed.dead_letters, masked.dead_letters,
          enriched.dead_letters, applied.dead_letters, checked.dead_letters]
  dead.append(_write(chain_loads.add_source_file(rows, cfg.loads),
                     'WriteFiles' if cfg.lake is not None else 'WriteRows', cfg.sink,
                     cfg.lake, cfg.output_schema, name,
                     schema_evolves=cfg.quality.drift.mode == 'evolve', commit=commit))
  aggregates = None
  if cfg.windowing is not None:
    windowing = cfg.windowing
    windowed = rows | 'WindowAndAggregate' >> WindowAndAggregate(
        cfg.processed_schema, windowing.window, windowing.aggregate, pipeline_name=name)
    # Aggregate rows carry their window as columns; the sink and the dead-letter Flatten
    # want the global window (and its default trigger) like every other branch, or, in a
    # streaming commit, the commit window they are produced in.
    window_dead_letters = windowed.dead_letters
    if cfg.notifications is not None and commit is not None:
      aggregate_rows = chain_loads.in_commit_windows(
          windowed.rows, 'AggregatesToCommitWindows', cfg)
      window_dead_letters = chain_loads.in_commit_windows(
          window_dead_letters, 'WindowDeadLettersToCommitWindows', cfg)
    else:
      aggregate_rows = windowed.rows | 'AggregatesToGlobalWindow' >> beam.WindowInto(
          GlobalWindows())
    dead += [window_dead_letters, _write(
        aggregate_rows, 'WriteAggregates', windowing.sink, windowing.lake,
        windowing.aggregate.table_schema(cfg.processed_schema), name,
        metric_name='aggregates', commit=commit)]
    aggregates = windowed.rows
  dead_letters = tuple(d for d in dead if d is not None) | 'FlattenDeadLetters' >> beam.Flatten()
  dead_letters = chain_steps.mask_dead_letters(
      dead_letters, cfg.masking, masked, csv=cfg.csv_format, pipeline_name=name)
  unwritable = dead_letters | 'WriteDeadLetters' >> WriteDeadLetters(
      cfg.dead_letters, pipeline_name=name,
      commit=commit if cfg.dead_letters.kind in ('bigquery', 'files') else None)
  alerts = chain_steps.monitor(checked.scores, dead_letters, cfg.quality, cfg.monitoring, name)
  chain_loads.commit_loads(p, commit)
  return PipelineOutputs(rows=rows, dead_letters=dead_letters,
                         unwritable_dead_letters=unwritable, aggregates=aggregates,
                         alerts=alerts)
