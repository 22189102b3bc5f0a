"""The training loop and what it owns: callbacks, the run directory, scores and the verdict, tracking, data parallel."""
