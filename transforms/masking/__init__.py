"""GDPR masking: policy-driven masking of rows and dead letters, keys, erase lists.

- ``policy`` (load and check a policy file), ``binding`` (bind it to a table schema:
  ``BoundPolicy``, ``masked_schema``), ``maskers`` (compile a bound policy into functions);
- ``methods``: one masking method a module (``hmac``, ``tokenize``, ``redact``, ``partial``,
  ``generalize``, ``drop``, ``keep``);
- ``keys`` (masking keys), ``erasure`` (erase lists, right to be forgotten), ``patterns``
  (pattern redaction of free text);
- ``mask_rows`` (``MaskPII``) and ``mask_dead_letters`` (``MaskDeadLetters``), the
  PTransforms, with ``step_support`` holding what both share.
"""

from beam_pipelines.transforms.masking.binding import BoundPolicy, bind_policy, masked_schema
from beam_pipelines.transforms.masking.erasure import (LoadEraseList, load_erase_list,
                                                       parse_erase_source)
from beam_pipelines.transforms.masking.keys import MaskingKey, parse_key_source
from beam_pipelines.transforms.masking.mask_dead_letters import (DEAD_LETTER_PAYLOAD_MODES,
                                                                 MaskDeadLetters)
from beam_pipelines.transforms.masking.mask_rows import MaskPII
from beam_pipelines.transforms.masking.policy import MaskingPolicy, load_policy
from beam_pipelines.transforms.masking.step_support import payload_hash

__all__ = [
    'BoundPolicy', 'DEAD_LETTER_PAYLOAD_MODES', 'LoadEraseList', 'MaskDeadLetters', 'MaskPII',
    'MaskingKey', 'MaskingPolicy', 'bind_policy', 'load_erase_list', 'load_policy',
    'masked_schema', 'parse_erase_source', 'parse_key_source', 'payload_hash',
]
