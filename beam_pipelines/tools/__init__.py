"""Developer and operator tools: the local emulators, ``launch`` (templates, locally or on
Dataflow), and the demos behind ``make run`` and ``make run-streaming``."""
