"""benchsuite: energy benchmarking and reporting for machine-learning model variants."""

from benchsuite._version import __version__
from benchsuite.case import Case
from benchsuite.training import TrainingSpec
from benchsuite.workload import EvalData, Workload

__all__ = ["Case", "EvalData", "TrainingSpec", "Workload", "__version__"]
