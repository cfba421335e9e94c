"""Model sources: a model named by the user turned into a workload.

``hf:<hub id or folder>`` (:mod:`benchsuite.sources.hf`) today; scikit-learn estimators are
workload classes (:class:`benchsuite.sources.sklearn.EstimatorWorkload`).
"""

from __future__ import annotations

from benchsuite.sources.spec import HF_PREFIX, TASKS, ModelSpec
from benchsuite.workload import Workload

__all__ = ["HF_PREFIX", "TASKS", "ModelSpec", "build_workload"]


def build_workload(spec: ModelSpec) -> Workload:
    """The workload for ``spec`` (its model is loaded on first use)."""
    from benchsuite.sources.hf import HuggingFaceWorkload  # transformers only when asked for

    return HuggingFaceWorkload(spec)
