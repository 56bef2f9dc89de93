"""Masking methods, one module each (``NAME``, ``check``, ``make``): ``hmac``, ``tokenize``,
``redact``, ``partial``, ``generalize``, ``drop``, ``keep``; ``common`` holds what they share."""
