"""Model sources by prefix: ``hf:`` bundled, the next one registered the way variants are.

A source turns a :class:`~benchsuite.sources.spec.ModelSpec` whose ``source`` starts with its
prefix into a workload. Register one with :func:`register_source`, or declare it in the
``benchsuite.sources`` entry-point group of your package::

    [project.entry-points."benchsuite.sources"]
    onnx-file = "my_package.sources:ONNX_FILE"   # a ModelSource

The CLI (``--model PREFIX...``) and suite files (``[[models]] source = "PREFIX..."``) find it
without being edited.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchsuite.errors import UsageError
from benchsuite.workload.discovery import entry_point_objects

if TYPE_CHECKING:  # the spec module asks this registry which prefixes exist
    from benchsuite.sources.spec import ModelSpec
    from benchsuite.workload.base import Workload

ENTRY_POINT_GROUP = "benchsuite.sources"


@dataclass(frozen=True)
class ModelSource:
    prefix: str
    """What a source string starts with, colon included: ``hf:``."""
    description: str
    """What follows the prefix, for messages: ``<hub id or folder>``."""
    builder: str
    """``module:function`` taking a ``ModelSpec`` and returning a ``Workload``; imported only
    when a model of this source is asked for (transformers is heavy)."""
    local_folders: bool = False
    """Whether what follows the prefix may be a folder (resolved against a suite file's)."""

    def build(self, spec: ModelSpec) -> Workload:
        module, _, name = self.builder.partition(":")
        function: Callable[[ModelSpec], Workload] = getattr(importlib.import_module(module), name)
        return function(spec)

    def location(self, source: str) -> str:
        """What follows the prefix: a hub id, a folder, a URL."""
        return source.removeprefix(self.prefix)


HF = ModelSource(
    "hf:", "<hub id or folder>", "benchsuite.sources.hf:HuggingFaceWorkload", local_folders=True
)
OPENAI = ModelSource(
    "openai:",
    "<base url of an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1>",
    "benchsuite.sources.openai_endpoint:EndpointWorkload",
)
_SOURCES: dict[str, ModelSource] = {HF.prefix: HF, OPENAI.prefix: OPENAI}
_entry_points_loaded = False


def register_source(source: ModelSource) -> ModelSource:
    """Add ``source`` (a second one with the same prefix is refused)."""
    if not source.prefix.endswith(":") or len(source.prefix) < 2:
        raise UsageError(f"model source prefix {source.prefix!r}: a name and a colon, e.g. 'hf:'")
    if _SOURCES.get(source.prefix, source) is not source:
        raise UsageError(f"model source {source.prefix!r} is already registered")
    _SOURCES[source.prefix] = source
    return source


def all_sources() -> dict[str, ModelSource]:
    """Every registered source by prefix, bundled first (a copy: register to add one)."""
    _load_entry_points()
    return dict(_SOURCES)


def source_of(text: str, option: str = "--model") -> ModelSource:
    """The source whose prefix ``text`` starts with, followed by something."""
    for prefix, source in all_sources().items():
        if text.startswith(prefix) and len(text) > len(prefix):
            return source
    known = ", ".join(f"{prefix}{source.description}" for prefix, source in _SOURCES.items())
    raise UsageError(
        f"{option} {text}: a model source starts with a known prefix ({known}), "
        "e.g. --model hf:./my-bert"
    )


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for loaded in entry_point_objects(ENTRY_POINT_GROUP):
        if isinstance(loaded, ModelSource):
            register_source(loaded)
