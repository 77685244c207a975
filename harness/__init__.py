"""memharness: the engine (CLI, runner, worker, monitor, backends, fixtures, results)."""
