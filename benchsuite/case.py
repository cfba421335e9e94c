"""The case: one point of the benchmark matrix, a frozen value the store, gate and report key on."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID_PATTERN = re.compile(
    r"^(?P<workload>[^/]+)/(?P<variant>[^/]+)/(?P<device>[^/]+)/(?P<scenario>[^/]+)"
    r"/b(?P<batch_size>\d+)(?:/t(?P<threads>\d+))?"
    r"(?:/p(?P<prompt_tokens>\d+)-o(?P<output_tokens>\d+))?"
    r"(?:/l(?P<load_pct>\d+))?$"
)


@dataclass(frozen=True, order=True)
class Case:
    """workload × variant × device × scenario × batch size (× CPU threads).

    ``threads`` is the number of intra-op CPU threads torch uses for the case; ``None`` leaves
    torch's default and is left out of the id. ``prompt_tokens`` and ``output_tokens`` are the
    token axes of a generation case (``/p64-o32`` in the id), ``None`` elsewhere. ``load_pct`` is
    a server case's offered load in percent of the maximum throughput measured (``/l50``).
    """

    workload: str
    variant: str
    device: str
    scenario: str
    batch_size: int
    threads: int | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    load_pct: int | None = None

    def __post_init__(self) -> None:
        for field_name in ("workload", "variant", "device", "scenario"):
            value = getattr(self, field_name)
            if not value or "/" in value:
                raise ValueError(
                    f"case {field_name} must be a non-empty name without '/': {value!r}"
                )
        if self.batch_size < 1:
            raise ValueError(f"case batch_size must be at least 1, got {self.batch_size}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"case threads must be at least 1, got {self.threads}")
        if (self.prompt_tokens is None) != (self.output_tokens is None):
            raise ValueError("a case has both prompt_tokens and output_tokens, or neither")
        for name in ("prompt_tokens", "output_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"case {name} must be at least 1, got {value}")
        if self.load_pct is not None and self.load_pct < 1:
            raise ValueError(f"case load_pct must be at least 1, got {self.load_pct}")

    @property
    def id(self) -> str:
        """Stable, readable id, e.g. ``digits-cnn/fp32/cpu/single-stream/b1``."""
        base = f"{self.workload}/{self.variant}/{self.device}/{self.scenario}/b{self.batch_size}"
        if self.threads is not None:
            base += f"/t{self.threads}"
        if self.prompt_tokens is not None:
            base += f"/p{self.prompt_tokens}-o{self.output_tokens}"
        if self.load_pct is not None:
            base += f"/l{self.load_pct}"
        return base

    def as_columns(self) -> dict[str, object]:
        """The store's identity columns of this case."""
        return {
            "case_id": self.id,
            "workload": self.workload,
            "variant": self.variant,
            "device": self.device,
            "scenario": self.scenario,
            "batch_size": self.batch_size,
            "threads": self.threads,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "load_pct": self.load_pct,
        }

    @classmethod
    def from_id(cls, case_id: str) -> Case:
        """Parse an id written by :attr:`id` back into a case."""
        match = _ID_PATTERN.match(case_id)
        if match is None:
            raise ValueError(
                f"not a case id: {case_id!r} (expected "
                "workload/variant/device/scenario/bN[/tN][/pN-oN][/lN])"
            )

        def number(group: str) -> int | None:
            return int(match[group]) if match[group] is not None else None

        return cls(
            workload=match["workload"],
            variant=match["variant"],
            device=match["device"],
            scenario=match["scenario"],
            batch_size=int(match["batch_size"]),
            threads=number("threads"),
            prompt_tokens=number("prompt_tokens"),
            output_tokens=number("output_tokens"),
            load_pct=number("load_pct"),
        )

    def __str__(self) -> str:
        return self.id
