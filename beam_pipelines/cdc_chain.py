"""The chain of ``cdc_to_bigquery``: the suite's chain with change records in and a merge out.

    ReadEvents -> DecodeChanges -> [SplitChanges -> MaskPII -> Enrich (c/r/u only)]
        -> ApplyChanges (change log, replica, history)  |  ApplyWithStorageWriteCdc
    dead letters of every step -> Flatten -> [MaskDeadLetters] -> WriteDeadLetters

Deletes go through MaskPII (their before image and key are masked like rows, so a hashed key
still matches) but not through enrichment; truncates carry no row and skip both. Step labels
are stable (Dataflow ``--update`` matches steps by name).
"""

import dataclasses
from typing import NamedTuple, Optional

import apache_beam as beam

from beam_pipelines import chain_steps
from beam_pipelines.cdc_config import CdcPipelineConfig
from beam_pipelines.transforms.cdc import ApplyChanges, DecodeChanges, SplitChanges
from beam_pipelines.transforms.cdc.formats import row_paths
from beam_pipelines.transforms.cdc.storage_write import ApplyWithStorageWriteCdc
from beam_pipelines.transforms.read import ReadEvents
from beam_pipelines.transforms.write import WriteDeadLetters


class CdcOutputs(NamedTuple):
  """The PCollections tests and callers may assert on."""
  changes: beam.PCollection          # accepted change rows, as they go to the merge
  dead_letters: beam.PCollection
  unwritable_dead_letters: beam.PCollection
  merges: Optional[beam.PCollection] = None  # MergeOutcome per merge (apply mode merge)


def _mask_and_enrich(changes, cfg):
  """(change rows after masking and enrichment, masked-rows result, dead letters)."""
  if cfg.masking is None and cfg.enrichment is None:
    return changes, None, []
  split = changes | 'SplitChanges' >> SplitChanges()
  upserts, deletes, dead, masked = split.upserts, split.deletes, [], None
  if cfg.masking is not None:
    rows = (upserts, deletes) | 'RowChanges' >> beam.Flatten()
    masked = chain_steps.mask_rows(
        rows, dataclasses.replace(cfg.masking, policy=cfg.change_policy),
        pipeline_name=cfg.pipeline_name)
    dead.append(masked.dead_letters)
    if cfg.enrichment is None:
      return ((masked.rows, split.truncates) | 'AcceptedChanges' >> beam.Flatten(), masked,
              dead)
    resplit = masked.rows | 'SplitMaskedChanges' >> SplitChanges()
    upserts, deletes = resplit.upserts, resplit.deletes
  enriched = chain_steps.enrich(upserts, cfg.enrichment)
  dead.append(enriched.dead_letters)
  accepted = (enriched.rows, deletes, split.truncates) | 'AcceptedChanges' >> beam.Flatten()
  return accepted, masked, dead


def build_cdc_chain(p, cfg: CdcPipelineConfig):
  """Adds the CDC chain for ``cfg`` to ``p``; returns the CdcOutputs."""
  if not isinstance(cfg, CdcPipelineConfig):
    raise ValueError(f'cfg must be a CdcPipelineConfig, got {type(cfg).__name__}')
  read = p | 'ReadEvents' >> ReadEvents(cfg.source)
  decoded = read.rows | 'DecodeChanges' >> DecodeChanges(cfg.changes, cfg.schema, cfg.parse)
  changes, masked, dead = _mask_and_enrich(decoded.rows, cfg)
  merges = None
  if cfg.merge is not None:
    merges = changes | 'ApplyChanges' >> ApplyChanges(cfg.merge, cfg.row_schema)
  else:
    _ = changes | 'ApplyWithStorageWriteCdc' >> ApplyWithStorageWriteCdc(
        cfg.storage_write_table, cfg.row_schema, cfg.changes.primary_key)
  dead_letters = ((read.dead_letters, decoded.dead_letters, *dead)
                  | 'FlattenDeadLetters' >> beam.Flatten())
  dead_letters = chain_steps.mask_dead_letters(
      dead_letters, cfg.masking, masked, pipeline_name=cfg.pipeline_name,
      row_paths=row_paths(cfg.changes.format))
  unwritable = dead_letters | 'WriteDeadLetters' >> WriteDeadLetters(
      cfg.dead_letters, pipeline_name=cfg.pipeline_name)
  return CdcOutputs(changes=changes, dead_letters=dead_letters,
                    unwritable_dead_letters=unwritable, merges=merges)
