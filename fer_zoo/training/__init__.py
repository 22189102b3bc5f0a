"""The training loop and what it owns: callbacks, the run directory, saved models read back, starting from
other weights, scores and the verdict, tracking, data parallel."""
