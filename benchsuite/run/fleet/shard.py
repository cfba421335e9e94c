"""``--shard I/N``: one of N CI matrix jobs runs its share of a suite, the same share every time.

Cases are dealt round-robin in the suite's own order (case k goes to shard ``k mod N + 1``), so
shards differ by at most one case, the split depends only on the suite, and a shard's history is
comparable night after night: each shard is its own run, recorded as ``shard: "I/N"`` in the
manifest, and the gate compares a shard with the same shard (:mod:`benchsuite.store.history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchsuite.case import Case
from benchsuite.errors import UsageError


@dataclass(frozen=True)
class Shard:
    index: int
    """1-based, as CI matrices count."""
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"``; anything else is refused with the expected form."""
        index, _, count = text.partition("/")
        if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
            raise UsageError(
                f"--shard {text}: expected I/N with 1 <= I <= N, e.g. --shard 2/4 for the "
                "second of four CI jobs"
            )
        return cls(int(index), int(count))

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, cases: Sequence[Case]) -> list[Case]:
        """This shard's cases, in suite order."""
        return [case for k, case in enumerate(cases) if k % self.count == self.index - 1]
