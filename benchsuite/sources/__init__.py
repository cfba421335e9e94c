"""Model sources: a model named by the user turned into a workload.

Sources are registered by prefix (:mod:`.registry`): ``hf:<hub id or folder>``
(:mod:`.hf`) is bundled. scikit-learn estimators are workload classes
(:class:`benchsuite.sources.sklearn.EstimatorWorkload`).
"""

from __future__ import annotations

from benchsuite.sources.registry import ModelSource, all_sources, register_source, source_of
from benchsuite.sources.spec import HF_PREFIX, TASKS, ModelSpec
from benchsuite.workload.base import Workload

__all__ = [
    "HF_PREFIX",
    "TASKS",
    "ModelSource",
    "ModelSpec",
    "all_sources",
    "build_workload",
    "register_source",
]


def build_workload(spec: ModelSpec) -> Workload:
    """The workload for ``spec``, built by its source (its model is loaded on first use)."""
    return source_of(spec.source).build(spec)
