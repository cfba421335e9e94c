"""A suite's cases through processes and machines to rows: the runner, one case, comparison
groups in rounds, worker processes, CPU pinning, the fingerprint and the fleet."""
