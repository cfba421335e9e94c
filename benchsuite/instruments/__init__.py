"""The instruments: timers, rounds, the serving loop, greedy decoding, energy windows and their
meters, statistics, quality metrics, memory, devices and grid carbon."""
