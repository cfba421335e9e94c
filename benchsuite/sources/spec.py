"""A model named by the user (``hf:<hub id or folder>``, or a source registered by its prefix)
and how to feed it: a frozen value that crosses into a case's worker process, where the model is
loaded again from it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from benchsuite.errors import UsageError, did_you_mean
from benchsuite.sources.registry import HF, source_of

HF_PREFIX = HF.prefix
TEXT_GENERATION = "text-generation"
TASKS = ("text-classification", "feature-extraction", "image-classification", TEXT_GENERATION)


@dataclass(frozen=True)
class ModelSpec:
    """``source``: ``hf:<hub id>`` (read from the local Hugging Face cache) or ``hf:<folder>``
    (anything ``save_pretrained`` or sentence-transformers wrote). ``task`` picks the Auto class
    and the quality metrics. Inputs come from the model's own tokenizer or image processor at
    ``sequence_length`` tokens or ``image_size`` pixels; ``eval_data`` (JSONL, CSV or Parquet with
    ``text_column`` or ``image_column`` and ``label_column``) gives accuracy. ``student`` pairs
    the model with a smaller pretrained one (its ``distilled`` variant)."""

    source: str
    task: str
    name: str = ""
    sequence_length: int = 128
    image_size: int | None = None
    eval_data: str | None = None
    text_column: str = "text"
    image_column: str = "image"
    label_column: str = "label"
    eval_limit: int = 512
    student: str | None = None
    served_model: str | None = None
    """An endpoint (``openai:<base url>``): the model name its requests carry; ``None``: the
    one model its ``/models`` lists."""
    api: str = "chat"
    """An endpoint: ``chat`` (``/chat/completions``) or ``completions``."""
    serve: str | None = None
    """An endpoint: the command that starts its server, run by benchsuite for the run's length
    (``None``: the server is already running)."""
    ready_timeout_s: float = 300.0
    """An endpoint started by ``serve``: how long it may take to answer ``/models``."""
    reference: str | None = None
    """An endpoint compared with another (``openai:<base url>``): each load level is served to
    both in interleaved windows, and the row carries the paired ratio to it."""
    reference_served_model: str | None = None
    gpu_ids: tuple[int, ...] | None = None
    """An endpoint on this machine: the CUDA-visible indices of the GPUs its server computes on
    (``CUDA_VISIBLE_DEVICES`` applies), which NVML reads over each load window."""

    def __post_init__(self) -> None:
        source_of(self.source)  # a known prefix, or one clear message naming them
        if self.task not in TASKS:
            raise UsageError(
                f"--task {self.task}: unknown task{did_you_mean(self.task, TASKS)}; tasks: "
                f"{', '.join(TASKS)}"
            )
        if self.student is not None:
            source_of(self.student, "--student")
        if self.sequence_length < 1 or (self.image_size is not None and self.image_size < 1):
            raise UsageError("--sequence-length and --image-size must be positive")
        if self.reference is not None and not self.source.startswith("openai:"):
            raise UsageError(
                f"reference {self.reference}: only an endpoint (openai:) is compared with "
                "another endpoint; in-process variants are compared in their comparison group"
            )
        if self.gpu_ids is not None:
            ids = tuple(self.gpu_ids)
            if not ids or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids):
                raise UsageError(
                    f"--gpu-ids {self.gpu_ids}: CUDA-visible GPU indices, e.g. --gpu-ids 0,1"
                )
            object.__setattr__(self, "gpu_ids", ids)
        if self.api not in ("chat", "completions"):
            raise UsageError(f"--api {self.api}: 'chat' or 'completions'")
        if not self.name:
            object.__setattr__(self, "name", default_name(self.source, self.served_model))

    @property
    def location(self) -> str:
        """What follows the source's prefix: a hub id or folder for ``hf:``."""
        return source_of(self.source).location(self.source)


def default_name(source: str, served_model: str | None = None) -> str:
    """A workload name from a source: a local folder's model by its own name (the
    ``_name_or_path`` its ``config.json`` records, as ``save_pretrained`` and sentence-transformers
    write it), else the folder's last part; a hub id whole (it keeps its owner); an endpoint by
    its served model's last part, else its host and port. Characters a case id cannot hold are
    replaced."""
    location = source_of(source).location(source).rstrip("/")
    if source.startswith("openai:"):
        location = (served_model or "").rstrip("/").rsplit("/", 1)[-1] or re.sub(
            r"^https?://|/v1$", "", location
        )
    if location.startswith((".", "/", "~")):
        location = _own_name(Path(location).expanduser()) or location.rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "--", location) or "model"


def _own_name(folder: Path) -> str | None:
    """The name a saved model's config gives itself (its hub id's last part), when it gives
    one; a model built from a config and saved records none."""
    try:
        recorded = json.loads((folder / "config.json").read_text()).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(recorded, str) or not recorded or recorded.startswith((".", "/", "~")):
        return None
    return recorded.rstrip("/").rsplit("/", 1)[-1]
