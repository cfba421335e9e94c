"""Model sources: a model named by the user turned into a workload.

``hf:<hub id or folder>`` (:mod:`benchsuite.sources.hf`) today; scikit-learn estimators are
workload classes (:class:`benchsuite.sources.sklearn.EstimatorWorkload`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchsuite.sources.spec import HF_PREFIX, TASKS, ModelSpec

if TYPE_CHECKING:  # transformers is imported only when a model is asked for
    from benchsuite.sources.hf import HuggingFaceWorkload

__all__ = ["HF_PREFIX", "TASKS", "ModelSpec", "build_workload"]


def build_workload(spec: ModelSpec) -> HuggingFaceWorkload:
    """The workload for ``spec`` (its model is loaded on first use)."""
    from benchsuite.sources.hf import HuggingFaceWorkload  # transformers only when asked for

    return HuggingFaceWorkload(spec)
