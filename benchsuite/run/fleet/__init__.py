"""Running a suite beyond one process: split across CI jobs (:mod:`.shard`) or spread over a Ray
cluster (:mod:`.ray_executor`), every node writing its rows to the shared store (:mod:`.job`)."""
