"""The model exported to ONNX and run by OpenVINO on the CPU: fp32, and int8 through NNCF.

- ``openvino``: OpenVINO reads the exported file and compiles it for the CPU with the latency
  hint, one stream and the case's thread count. The inference precision is pinned to f32:
  OpenVINO otherwise runs a CPU with bf16 or AMX units in bf16, which would be a different
  variant under the fp32 name.
- ``openvino-int8``: NNCF's post-training quantization (``nncf.quantize``, its default mixed
  preset: symmetric int8 weights per channel, activations calibrated) on the workload's own
  samples (:mod:`calibration`), then compiled as above.

FLOPs are counted on the PyTorch model the file was exported from; the model's size is the size
of the file OpenVINO read (for int8, the quantized model serialised to OpenVINO's IR). Where
OpenVINO or NNCF is not installed, the rows are skipped and name the extra:
``pip install 'benchsuite[openvino]'``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchsuite.errors import VariantUnavailable
from benchsuite.variants.base import PreparedModel, RuntimeFacts
from benchsuite.variants.calibration import calibration_data, requires_calibration_data
from benchsuite.variants.onnx_export import (
    BatchLayout,
    RuntimeModule,
    batch_leaves,
    export_onnx,
    missing_reason,
)
from benchsuite.workload.base import Workload

OPENVINO_EXTRA = "pip install 'benchsuite[openvino]'"


def requires_openvino(workload: Workload) -> str | None:
    return missing_reason(
        ("openvino", "onnxscript"),
        f"the openvino variants need OpenVINO and the ONNX exporter: {OPENVINO_EXTRA}",
    )


def requires_nncf(workload: Workload) -> str | None:
    return (
        missing_reason(
            ("nncf",),
            f"openvino-int8 quantizes with NNCF, which is not installed: {OPENVINO_EXTRA}",
        )
        or requires_openvino(workload)
        or requires_calibration_data(workload)
    )


def _compiled(model: Any) -> Any:
    import openvino as ov

    threads = torch.get_num_threads()
    return ov.Core().compile_model(
        model,
        "CPU",
        {
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": "1",
            "INFERENCE_NUM_THREADS": str(threads),
            "INFERENCE_PRECISION_HINT": "f32",
        },
    )


def _prepared(
    model_ir: Any,
    artifact_bytes: int,
    layout: BatchLayout,
    source: nn.Module,
    device: str,
    recipe_detail: str,
) -> PreparedModel:
    compiled = _compiled(model_ir)
    request = compiled.create_infer_request()
    wanted = tuple(name for port in compiled.inputs for name in port.get_names())

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        request.infer(feeds)
        # the request reuses its output buffer on the next call: keep a copy
        return np.array(request.get_output_tensor(0).data, copy=True)

    version = importlib.metadata.version("openvino")
    threads = torch.get_num_threads()
    return PreparedModel(
        RuntimeModule(run, layout, wanted),
        device,
        flops_module=source,
        detail=f"{recipe_detail}; OpenVINO {version}, CPU plugin, latency hint, 1 stream, "
        f"{threads} thread{'s' if threads != 1 else ''}, f32 inference precision",
        runtime=RuntimeFacts("openvino", version, artifact_bytes),
        backend=f"OpenVINO {version}, CPU plugin",
    )


def _ir_bytes(model_ir: Any, folder: Path) -> int:
    """Size of ``model_ir`` serialised to OpenVINO's IR (the .xml graph and .bin weights)."""
    import openvino as ov

    xml = folder / "model.xml"
    ov.save_model(model_ir, str(xml), compress_to_fp16=False)
    return xml.stat().st_size + xml.with_suffix(".bin").stat().st_size


@contextlib.contextmanager
def _nncf_quiet() -> Iterator[None]:
    """NNCF logs its progress and draws progress bars; a case's output is its row."""
    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _nncf_int8(model_ir: Any, workload: Workload, wanted: set[str]) -> tuple[Any, str]:
    calibration = calibration_data(workload)
    if calibration is None:
        raise VariantUnavailable("openvino-int8 needs the workload's samples to calibrate on")
    items = [
        {name: tensor.numpy() for name, tensor in batch_leaves(batch) if name in wanted}
        for batch in calibration.batches()
    ]
    with _nncf_quiet():
        import nncf

        quantized = nncf.quantize(model_ir, nncf.Dataset(items), subset_size=calibration.samples)
    version = importlib.metadata.version("nncf")
    return quantized, (
        f"post-training int8 by NNCF {version} (mixed preset: symmetric int8 weights per "
        f"channel, activations calibrated), {calibration.describe()}"
    )


def openvino_runtime(int8: bool = False) -> Callable[..., PreparedModel]:
    """The transform of an ``openvino`` variant: export, read (and quantize), compile."""

    def transform(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
        import openvino as ov

        model = model.float().cpu().eval()
        with tempfile.TemporaryDirectory(prefix="benchsuite-openvino-") as folder:
            exported = Path(folder) / "model.onnx"
            layout = export_onnx(model, workload, exported)
            model_ir = ov.Core().read_model(str(exported))
            detail = "exported with torch.onnx (dynamo), fp32"
            artifact_bytes = exported.stat().st_size
            if int8:
                wanted = {name for port in model_ir.inputs for name in port.get_names()}
                model_ir, detail = _nncf_int8(model_ir, workload, wanted)
                artifact_bytes = _ir_bytes(model_ir, Path(folder))
            return _prepared(model_ir, artifact_bytes, layout, model, device, detail)

    return transform
