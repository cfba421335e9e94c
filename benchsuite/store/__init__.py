"""Where rows are kept: the append-only Parquet runs, their location, the schema and which runs
are alike."""
