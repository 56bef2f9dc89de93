"""GDPR masking: policy-driven masking of rows and dead letters, keys, erase lists.

One strategy a module (``hmac``, ``tokenize``, ``redact``, ``partial``, ``generalize``,
``drop``, ``keep``); ``policy`` loads, validates and compiles policy files; ``keys`` loads
masking keys; ``erasure`` loads erase lists; ``transform`` holds the PTransforms.
"""

from transforms.masking.erasure import LoadEraseList, load_erase_list, parse_erase_source
from transforms.masking.keys import MaskingKey, parse_key_source
from transforms.masking.policy import (BoundPolicy, MaskingPolicy, bind_policy, load_policy,
                                       masked_schema)
from transforms.masking.transform import (DEAD_LETTER_PAYLOAD_MODES, MaskDeadLetters, MaskPII,
                                          payload_hash)

__all__ = [
    'BoundPolicy', 'DEAD_LETTER_PAYLOAD_MODES', 'LoadEraseList', 'MaskDeadLetters', 'MaskPII',
    'MaskingKey', 'MaskingPolicy', 'bind_policy', 'load_erase_list', 'load_policy',
    'masked_schema', 'parse_erase_source', 'parse_key_source', 'payload_hash',
]
