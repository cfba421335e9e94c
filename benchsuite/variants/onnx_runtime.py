"""The model exported to ONNX and run by ONNX Runtime: fp32, dynamic int8 and static int8.

- ``ort``: the exported fp32 graph with every graph optimisation ONNX Runtime has (layer fusion,
  constant folding, layout changes), on the case's thread count (intra-op; one inter-op thread,
  sequential execution, as PyTorch runs one call).
- ``ort-int8``: ONNX Runtime's dynamic quantization of ``MatMul`` and ``Gemm`` (int8 weights, the
  activations' scale computed per call). Convolutions stay fp32: ONNX Runtime advises static
  quantization for CNNs, and its int8 ``ConvInteger`` kernel ran slower than fp32 on a CPU
  (docs/measurement.md, "Readings behind rules in the code").
- ``ort-int8-static``: static QDQ quantization, every supported op, weights per channel,
  activations' scales calibrated on the workload's own samples (:mod:`calibration`).

On a CUDA device the session takes ONNX Runtime's CUDA execution provider when the installed
build has it (``onnxruntime-gpu``), else the case is a skipped row that says so. Inputs cross
host memory on every call there (no I/O binding), which the row's detail states.

FLOPs are counted on the PyTorch model the file was exported from; the model's size is the size
of the file ONNX Runtime loaded. Where ONNX Runtime is not installed, the rows are skipped and
name the extra: ``pip install 'benchsuite[onnx]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchsuite.errors import VariantUnavailable
from benchsuite.variants.base import PreparedModel, RuntimeFacts
from benchsuite.variants.calibration import calibration_data
from benchsuite.variants.onnx_export import (
    EXPORT_BATCH_SIZE,
    ONNX_EXTRA,
    BatchLayout,
    RuntimeModule,
    batch_leaves,
    export_onnx,
    missing_reason,
)
from benchsuite.workload.base import Workload
from benchsuite.workload.weights import cache_dir

DYNAMIC_INT8_OPS = ("MatMul", "Gemm")


def requires_onnxruntime(workload: Workload) -> str | None:
    return missing_reason(
        ("onnxruntime", "onnxscript"),
        f"the ort variants need ONNX Runtime and the ONNX exporter: {ONNX_EXTRA}",
    )


def requires_static_calibration(workload: Workload) -> str | None:
    from benchsuite.variants.calibration import requires_calibration_data

    return requires_onnxruntime(workload) or requires_calibration_data(workload)


def _providers(device: str) -> list[Any]:
    import onnxruntime as ort

    target = torch.device(device)
    if target.type == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise VariantUnavailable(
            "this ONNX Runtime build has no CUDA execution provider: install onnxruntime-gpu "
            "in place of onnxruntime"
        )
    return [("CUDAExecutionProvider", {"device_id": target.index or 0}), "CPUExecutionProvider"]


def _session(path: Path, device: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()  # the case's threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=_providers(device))


def _prepared(
    path: Path, layout: BatchLayout, model: nn.Module, device: str, recipe_detail: str
) -> PreparedModel:
    import onnxruntime as ort

    session = _session(path, device)
    wanted = tuple(node.name for node in session.get_inputs())

    def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
        output: np.ndarray = session.run(None, feeds)[0]
        return output

    provider = session.get_providers()[0]
    crossing = "" if provider == "CPUExecutionProvider" else "; inputs cross host memory each call"
    threads = torch.get_num_threads()
    return PreparedModel(
        RuntimeModule(run, layout, wanted),
        device,
        flops_module=model,
        detail=f"{recipe_detail}; ONNX Runtime {ort.__version__}, {provider}, all graph "
        f"optimisations, {threads} intra-op thread{'s' if threads != 1 else ''}{crossing}",
        runtime=RuntimeFacts("onnxruntime", ort.__version__, path.stat().st_size),
        backend=f"ONNX Runtime {ort.__version__}, {provider}",
    )


@contextlib.contextmanager
def root_logger_quiet() -> Iterator[None]:
    """ONNX Runtime's quantizer logs advice through the root logger at WARNING ("consider
    pre-processing", per-channel axes it skips on 1-D weights); none of it is a failure."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


Quantize = Callable[[Path, Path, Workload], str]
"""quantize(fp32_file, int8_file, workload) -> what it did, for the row's detail."""


def onnx_runtime(quantize: Quantize | None = None) -> Callable[..., PreparedModel]:
    """The transform of an ``ort`` variant: export, optionally quantize the file, load it.

    The file is kept in the cache beside the trained weights, keyed by the model's weights, the
    workload, the recipe and the versions that made it (:func:`artifact_key`): a case runs in
    several worker processes, and each would otherwise export (and quantize) the same model again,
    seconds each."""

    def transform(model: nn.Module, device: str, workload: Workload) -> PreparedModel:
        model = model.float().cpu().eval()
        recipe = quantize.__name__ if quantize is not None else "fp32"
        cached = cache_dir() / "onnx" / f"{workload.name}-{artifact_key(model, recipe)}.onnx"
        said = cached.with_suffix(".txt")
        if cached.is_file() and said.is_file():
            layout = BatchLayout.of(workload.example_batch(EXPORT_BATCH_SIZE))
            detail = said.read_text() + " (file reused from an earlier process's export)"
            return _prepared(cached, layout, model, device, detail)
        with tempfile.TemporaryDirectory(prefix="benchsuite-onnx-") as folder:
            exported = Path(folder) / "model.onnx"
            layout = export_onnx(model, workload, exported)
            detail = "exported with torch.onnx (dynamo), fp32"
            if quantize is not None:
                quantized = Path(folder) / "model-int8.onnx"
                with root_logger_quiet():
                    detail = quantize(exported, quantized, workload)
                exported = quantized
            _keep(exported, cached, detail)
            return _prepared(exported, layout, model, device, detail)

    return transform


def artifact_key(model: nn.Module, recipe: str) -> str:
    """What makes an exported file: the weights, the recipe, torch's and ONNX Runtime's
    versions."""
    import onnxruntime as ort

    digest = hashlib.sha256(f"{recipe} {torch.__version__} {ort.__version__}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _keep(exported: Path, cached: Path, detail: str) -> None:
    """Copy the file into the cache whole (by rename), with what was done to it."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        shutil.copyfile(exported, temporary)
        cached.with_suffix(".txt").write_text(detail)
        os.replace(temporary, cached)
    except OSError:
        pass  # an unwritable cache only costs an export next time


def dynamic_int8(exported: Path, quantized: Path, workload: Workload) -> str:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        exported,
        quantized,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=list(DYNAMIC_INT8_OPS),
    )
    return (
        f"dynamic int8 quantization of {'/'.join(DYNAMIC_INT8_OPS)} by ONNX Runtime (int8 "
        "weights, activations quantized per call); convolutions fp32"
    )


def static_int8(exported: Path, quantized: Path, workload: Workload) -> str:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    calibration = calibration_data(workload)
    if calibration is None:
        raise VariantUnavailable("static int8 needs the workload's samples to calibrate on")
    import onnx

    wanted = {node.name for node in onnx.load(str(exported)).graph.input}
    feeds = [
        {name: tensor.numpy() for name, tensor in batch_leaves(batch) if name in wanted}
        for batch in calibration.batches()
    ]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.remaining = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.remaining, None)

    quantize_static(
        exported,
        quantized,
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
    )
    return (
        "static int8 quantization by ONNX Runtime (QDQ, weights per channel, activation "
        f"ranges by min-max, {calibration.describe()})"
    )
