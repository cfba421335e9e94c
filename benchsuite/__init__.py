"""benchsuite: energy benchmarking and reporting for machine-learning model variants.

The public API (everything else is internal and may change)::

    measure(model_or_function, batch, batch_size=..., device=...) -> CaseResult
    energy_window(device=...)            # with ... as w: ...; w.reading
    Workload, EvalData, TrainingSpec     # write a workload for suites (docs/workloads.md)
    register_variant, PreparedModel      # add a variant (docs/workloads.md)
    Scenario, register_scenario          # add a scenario (docs/architecture.md)
    EstimatorWorkload                    # a scikit-learn estimator (docs/your-model.md)
    Case, CaseResult, EnergyReading      # what results are made of
    SamplingConfig, EnergyConfig         # how carefully measure() samples
"""

from benchsuite._version import __version__
from benchsuite.api import energy_window, measure
from benchsuite.case import Case
from benchsuite.instruments.energy import EnergyConfig
from benchsuite.instruments.meters.base import EnergyReading
from benchsuite.instruments.timing import SamplingConfig
from benchsuite.library_noise import quiet_library_loggers as _quiet_library_loggers
from benchsuite.results import CaseResult
from benchsuite.scenarios import register_scenario
from benchsuite.scenarios.base import Scenario
from benchsuite.sources.sklearn import EstimatorWorkload
from benchsuite.variants import PreparedModel, register_variant
from benchsuite.workload.base import EvalData, Workload
from benchsuite.workload.trainer import TrainingSpec

_quiet_library_loggers()  # before any model load imports transformers (and with it torchao)

__all__ = [
    "Case",
    "CaseResult",
    "EnergyConfig",
    "EnergyReading",
    "EstimatorWorkload",
    "EvalData",
    "PreparedModel",
    "SamplingConfig",
    "Scenario",
    "TrainingSpec",
    "Workload",
    "__version__",
    "energy_window",
    "measure",
    "register_scenario",
    "register_variant",
]
