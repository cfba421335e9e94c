"""Which int8 a CPU should run: every candidate form of one model, timed in turns in one process.

For each model (the standard text-transformer at batch 1 and 256, digits-cnn at batch 1, and a
BERT-shaped encoder the size of all-MiniLM-L6-v2 from a transformers config at 32 tokens), the
forms are held ready side by side and timed in rounds (30 rounds of 100 calls each, after 20
untimed; forward then backward order, A B C then C B A), one thread, so that the machine's drift
lands on every form alike. It prints each form's median call and the median of its per-round
ratios to fp32, with their range:

- fp32 (PyTorch's fused Transformer fast path on, as fp32 runs it),
- ``torch.ao.quantization.quantize_dynamic`` on the x86 engine (the ``int8`` variant),
- torchao's ``Int8DynamicActivationInt8WeightConfig`` in eager mode (``int8-torchao-eager``),
- PT2E with ``X86InductorQuantizer``, dynamic and static (calibrated on the input), compiled,
- fp32 under ``torch.compile``, for scale.

docs/workloads.md ("Which int8") has the table of 2026-12-07 on the project's 2-core VM. Needs
torchao and transformers (``pip install '.[torchao,hf]'``).
Usage: python benchmarks/bench_int8_forms.py [text-transformer text-transformer-256 digits-cnn bert]
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "workloads"))
ROUNDS, CALLS, UNTIMED = 30, 100, 20


def pt2e(model: nn.Module, example: torch.Tensor, dynamic: bool) -> nn.Module:
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    quantizer = x86.X86InductorQuantizer()
    quantizer.set_global(x86.get_default_x86_inductor_quantization_config(is_dynamic=dynamic))
    with torch.no_grad():
        exported = torch.export.export(copy.deepcopy(model), (example,)).module()
        prepared = prepare_pt2e(exported, quantizer)
        prepared(example)  # calibration
        return torch.compile(convert_pt2e(prepared))


def forms(model: nn.Module, example: torch.Tensor) -> dict[str, tuple[nn.Module, bool]]:
    """Each form and whether it runs with the fused Transformer fast path."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    torch.backends.quantized.engine = "x86"
    out: dict[str, tuple[nn.Module, bool]] = {"fp32": (model, True)}
    out["torch.ao dynamic, x86 (int8)"] = (
        torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, torch.qint8),
        False,  # quantized linear layers cannot run in the fast path
    )
    eager = copy.deepcopy(model)
    quantize_(eager, Int8DynamicActivationInt8WeightConfig())
    out["torchao eager (int8-torchao-eager)"] = (eager, True)
    for dynamic in (True, False):
        name = f"PT2E x86 {'dynamic' if dynamic else 'static'}, compiled"
        try:
            out[name] = (pt2e(model, example, dynamic), True)
        except Exception as error:  # the quantizer cannot annotate every model
            print(f"  {name}: {type(error).__name__}: {str(error)[:120]}", flush=True)
    out["fp32 compiled"] = (torch.compile(copy.deepcopy(model)), True)
    return out


def interleaved(candidates: dict[str, tuple[nn.Module, bool]], example: torch.Tensor) -> None:
    medians: dict[str, list[float]] = {name: [] for name in candidates}
    with torch.inference_mode():
        for module, fast in candidates.values():  # compile, and first calls, untimed
            torch.backends.mha.set_fastpath_enabled(fast)
            module(example)
        for index in range(ROUNDS):
            order = list(candidates.items())
            for name, (module, fast) in order if index % 2 == 0 else order[::-1]:
                torch.backends.mha.set_fastpath_enabled(fast)
                for _ in range(UNTIMED):
                    module(example)
                samples = []
                for _ in range(CALLS):
                    started = time.perf_counter_ns()
                    module(example)
                    samples.append(time.perf_counter_ns() - started)
                medians[name].append(statistics.median(samples))
    torch.backends.mha.set_fastpath_enabled(True)
    reference = medians["fp32"]
    for name, values in medians.items():
        ratios = [a / b for a, b in zip(values, reference, strict=True)]
        print(
            f"  {name:38s} {statistics.median(values) / 1e3:10.1f} µs   x{statistics.median(ratios):.3f}"
            f" [{min(ratios):.2f}-{max(ratios):.2f}]",
            flush=True,
        )


def bert_shape() -> tuple[nn.Module, torch.Tensor]:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536
    )

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel(config)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=ids).last_hidden_state

    return Encoder().eval(), torch.randint(0, config.vocab_size, (1, 32))


def models() -> dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]]:
    import digits_cnn
    import text_transformer

    def text(batch: int) -> Callable[[], tuple[nn.Module, torch.Tensor]]:
        return lambda: (
            text_transformer.TokenClassifier().eval(),
            text_transformer.TextTransformer().example_batch(batch),
        )

    return {
        "text-transformer": text(1),
        "text-transformer-256": text(256),
        "digits-cnn": lambda: (digits_cnn.DigitsNet().eval(), torch.randn(1, 1, 8, 8)),
        "bert": bert_shape,
    }


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    warnings.simplefilter("ignore")
    known = models()
    for name in sys.argv[1:] or list(known):
        model, example = known[name]()
        print(f"{name}, input {tuple(example.shape)}, one thread:", flush=True)
        interleaved(forms(model, example), example)


if __name__ == "__main__":
    main()
