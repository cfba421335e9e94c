"""What to run: suite files (bundled here as TOML, or any path) and the one-model suite that
``--model`` makes."""
