"""What running a pipeline needs besides its graph: argv -> options and config (``cli``),
local worker processes (``local_parallelism``), a streaming run's lifecycle (``streaming``)
and the run summary (``summary``)."""
