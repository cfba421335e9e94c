"""Each variant does what it says, on tiny models so the tests stay fast."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from benchsuite import EvalData, TrainingSpec, Workload
from benchsuite.variants import get_variant, weight_sparsity
from benchsuite.workload.base import seeded
from benchsuite.workload.trainer import accuracy, train_classifier
from benchsuite.workload.weights import cached_weights, definition_hash


class Blobs(Workload):
    """Four Gaussian blobs in 8 dimensions: trains in well under a second."""

    name = "blobs"
    training = TrainingSpec(batch_size=32, learning_rate=1e-2, max_epochs=20, target_accuracy=0.9)

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        centres = torch.randn(4, 8, generator=generator) * 3
        labels = torch.arange(400) % 4
        inputs = centres[labels] + torch.randn(400, 8, generator=generator)
        self.train = EvalData(inputs[:300], labels[:300])
        self.held_out = EvalData(inputs[300:], labels[300:])

    def build_model(self) -> nn.Module:
        return nn.Sequential(
            nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4)
        )

    def build_student(self) -> nn.Module:
        return nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return self.held_out.inputs[:batch_size].clone()

    def train_data(self) -> EvalData:
        return self.train

    def eval_data(self) -> EvalData:
        return self.held_out


class ConvResidual(nn.Module):
    """conv -> bn -> relu -> conv feeding a residual add, then pool and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.b = nn.Conv2d(16, 8, 3, padding=1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.stem(x)
        return self.head(stem + self.b(torch.relu(self.bn(self.a(stem)))))


class Images(Workload):
    name = "images"
    quality_metric = None

    def build_model(self) -> nn.Module:
        return ConvResidual()

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, 3, 8, 8, generator=torch.Generator().manual_seed(1))


class EncoderClassifier(nn.Module):
    """Two PyTorch encoder layers, mean pooling and a head: fx sees the encoder as one leaf."""

    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=1))


class Sequences(Workload):
    name = "sequences"
    quality_metric = None

    def build_model(self) -> nn.Module:
        return EncoderClassifier()

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, 5, 16, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope="module")
def blobs() -> Blobs:
    return Blobs()


def test_reference_trains_and_is_cached(
    blobs: Blobs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCHSUITE_CACHE_DIR", str(tmp_path))
    reference = blobs.reference_model()
    assert accuracy(reference, blobs.held_out.inputs, blobs.held_out.labels) >= 0.9
    key = definition_hash(blobs, "reference")
    assert (tmp_path / f"blobs-{key}.pt").is_file()
    again, from_cache = cached_weights(
        "blobs", key, blobs.build_model, lambda m: pytest.fail("retrained")
    )
    assert from_cache
    assert torch.equal(again[0].weight, reference[0].weight)
    assert definition_hash(blobs, "other recipe") != key


def test_training_stops_at_the_target(blobs: Blobs) -> None:
    model = seeded(blobs.build_model, 0)
    outcome = train_classifier(
        model,
        (blobs.train.inputs, blobs.train.labels),
        (blobs.held_out.inputs, blobs.held_out.labels),
        blobs.training,
    )
    assert outcome.stop_reason == "target_reached" and outcome.reached_target
    assert outcome.epochs < 20 and outcome.samples == 300 * outcome.epochs


def test_fp32_and_bf16(blobs: Blobs) -> None:
    reference = blobs.reference_model()
    x = blobs.example_batch(4)
    fp32 = get_variant("fp32").prepare(reference, "cpu", blobs)
    bf16 = get_variant("bf16").prepare(reference, "cpu", blobs)
    with fp32.context():
        assert fp32.module(x).dtype == torch.float32
    with bf16.context():
        assert bf16.module(x).dtype == torch.bfloat16
    assert reference[0].weight.dtype == torch.float32


def test_int8_runs_torch_aos_eager_int8_kernels_and_quotes_the_deprecation(blobs: Blobs) -> None:
    reference = blobs.reference_model()
    prepared = get_variant("int8").prepare(reference, "cpu", blobs)
    quantized = [m for m in prepared.module.modules() if "quantized.dynamic" in type(m).__module__]
    assert len(quantized) == 3
    assert not any(type(m) is nn.Linear for m in prepared.module.modules())
    assert "3 of 3 nn.Linear -> int8 dynamic" in prepared.detail
    assert "PyTorch warned: " in prepared.detail and "deprecat" in prepared.detail.lower()
    assert prepared.kernel_path().startswith("torch.ao.quantization dynamic int8, eager")
    with prepared.context():
        out = prepared.module(blobs.example_batch(8))
    assert out.dtype == torch.float32 and out.shape == (8, 4)
    with torch.inference_mode():
        fp32 = reference(blobs.example_batch(8))
    assert 0 < (out - fp32).abs().max() < 0.1 * fp32.abs().max()  # int8 moved the numbers a little
    assert prepared.flops_module is not None  # FLOPs are counted on the fp32 twin


def test_int8_is_the_same_kernel_path_whether_or_not_torchao_is_installed(
    blobs: Blobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    with_torchao = get_variant("int8").prepare(blobs.reference_model(), "cpu", blobs)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torchao" else find_spec(name, *a),
    )
    without = get_variant("int8").prepare(blobs.reference_model(), "cpu", blobs)
    assert without.kernel_path() == with_torchao.kernel_path()
    reason = get_variant("int8-torchao-eager").unsupported_reason("cpu", blobs)
    assert reason is not None and "pip install 'benchsuite[torchao]'" in reason


def test_torchaos_eager_int8_is_a_variant_named_as_the_fallback(blobs: Blobs) -> None:
    prepared = get_variant("int8-torchao-eager").prepare(blobs.reference_model(), "cpu", blobs)
    quantized = [
        m
        for m in prepared.module.modules()
        if type(getattr(m, "weight", None)).__module__.startswith("torchao")
    ]
    assert len(quantized) == 3
    assert "eager" in prepared.detail and "(no torch.compile" in prepared.kernel_path()
    with prepared.context():
        assert prepared.module(blobs.example_batch(8)).shape == (8, 4)


def test_every_variant_names_its_kernel_path(blobs: Blobs) -> None:
    paths = {
        name: get_variant(name).prepare(blobs.reference_model(), "cpu", blobs).kernel_path()
        for name in ("fp32", "bf16", "bf16-weights")
    }
    assert paths["fp32"].endswith("eager, float32 weights")
    assert paths["bf16"].endswith("eager, float32 weights, autocast to bfloat16")
    assert paths["bf16-weights"].endswith("eager, bfloat16 weights")


@pytest.mark.parametrize(("name", "level"), [("prune50", 0.5), ("prune90", 0.9)])
def test_unstructured_pruning_reaches_its_sparsity(blobs: Blobs, name: str, level: float) -> None:
    reference = blobs.reference_model()
    prepared = get_variant(name).prepare(reference, "cpu", blobs)
    assert prepared.sparsity == pytest.approx(level, abs=0.01)
    assert weight_sparsity(prepared.module) == prepared.sparsity
    assert weight_sparsity(reference) < 0.01  # the reference is untouched
    assert sum(p.numel() for p in prepared.module.parameters()) == sum(
        p.numel() for p in reference.parameters()
    )


def test_structured_pruning_really_shrinks_a_chain(blobs: Blobs) -> None:
    reference = blobs.reference_model()
    prepared = get_variant("prune-ch50").prepare(reference, "cpu", blobs)
    layers = [m for m in prepared.module.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(8, 16), (16, 16), (16, 4)]
    with prepared.context():
        assert prepared.module(blobs.example_batch(3)).shape == (3, 4)


def test_structured_pruning_leaves_residual_outputs_whole() -> None:
    images = Images()
    prepared = get_variant("prune-ch50").prepare(images.reference_model(), "cpu", images)
    model = prepared.module
    assert (model.a.out_channels, model.bn.num_features, model.b.in_channels) == (8, 8, 8)
    assert model.stem.out_channels == 8 and model.b.out_channels == 8  # they feed the add
    with prepared.context():
        assert model(images.example_batch(2)).shape == (2, 4)


def test_structured_pruning_halves_each_transformer_feed_forward_block() -> None:
    sequences = Sequences()
    reference = sequences.reference_model()
    assert get_variant("prune-ch50").unsupported_reason("cpu", sequences) is None
    prepared = get_variant("prune-ch50").prepare(reference, "cpu", sequences)
    layers = list(prepared.module.encoder.layers)
    assert [(m.linear1.out_features, m.linear2.in_features) for m in layers] == [(16, 16)] * 2
    assert [m.linear2.out_features for m in layers] == [16, 16]  # the residual width stays
    removed = sum(p.numel() for p in reference.parameters()) - sum(
        p.numel() for p in prepared.module.parameters()
    )
    assert removed == 2 * (16 * 16 + 16 + 16 * 16)  # linear1 rows and biases, linear2 columns
    assert "encoder.layers.0.linear1 32->16" in prepared.detail
    x = sequences.example_batch(3)
    with prepared.context():
        fast = prepared.module(x)  # inference mode takes PyTorch's fused encoder fast path
    with torch.no_grad():
        slow = prepared.module(x)
    assert fast.shape == (3, 4)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-5)


def test_structured_pruning_refuses_a_model_without_a_free_width() -> None:
    class OnlyResidual(Images):
        def build_model(self) -> nn.Module:
            return nn.Linear(8, 8)

    reason = get_variant("prune-ch50").unsupported_reason("cpu", OnlyResidual())
    assert reason is not None and "every output feeds" in reason


def test_distilled_student_is_smaller_and_learns(blobs: Blobs) -> None:
    reference = blobs.reference_model()
    prepared = get_variant("distilled").prepare(reference, "cpu", blobs)
    student_params = sum(p.numel() for p in prepared.module.parameters())
    assert student_params < sum(p.numel() for p in reference.parameters()) / 5
    assert accuracy(prepared.module, blobs.held_out.inputs, blobs.held_out.labels) >= 0.85
    assert get_variant("distilled").unsupported_reason("cpu", Images()) is not None


def test_compiled_matches_eager(blobs: Blobs) -> None:
    reference = blobs.reference_model()
    prepared = get_variant("compiled").prepare(reference, "cpu", blobs)
    assert type(prepared.module).__name__ == "OptimizedModule"
    x = blobs.example_batch(1)
    with prepared.context():
        torch.testing.assert_close(prepared.module(x), reference(x), rtol=1e-4, atol=1e-5)


def test_int8_runs_a_transformer_encoder() -> None:
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False).eval()
    blobs = Blobs()
    prepared = get_variant("int8").prepare(model, "cpu", blobs)
    assert "2 of 3 nn.Linear" in prepared.detail  # attention's out_proj is not quantizable
    with prepared.context():
        assert prepared.module(torch.randn(2, 5, 16)).shape == (2, 5, 16)
    assert torch.backends.mha.get_fastpath_enabled()  # restored after the context


def test_the_deployed_bf16_form_casts_the_weights_and_the_inputs() -> None:
    import torch
    from torch import nn

    from benchsuite.variants import get_variant

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    reference = model(torch.ones(3, 8))
    prepared = get_variant("bf16-weights").transform(model, "cpu", None)  # type: ignore[arg-type]
    assert {p.dtype for p in prepared.module.parameters()} == {torch.bfloat16}
    assert prepared.autocast_dtype is None and "weights cast to bfloat16" in prepared.detail
    with prepared.context():
        out = prepared.module(torch.ones(3, 8))  # fp32 inputs, as a workload gives them
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), reference, rtol=0.05, atol=0.05)
    assert get_variant("fp16-weights").devices == ("cuda",)


def test_the_deployed_bf16_form_generates_with_a_language_model() -> None:
    import torch

    from benchsuite.instruments.greedy_decode import greedy_generate
    from benchsuite.variants import get_variant
    from tests.conftest import tiny_llama

    torch.manual_seed(0)
    prepared = get_variant("bf16-weights").transform(tiny_llama(), "cpu", None)  # type: ignore[arg-type]
    with prepared.context():
        generated = greedy_generate(prepared.module, torch.zeros(2, 5, dtype=torch.long), 4)
    assert generated.tokens.shape == (2, 4)
    assert prepared.module.model.embed_tokens.weight.dtype == torch.bfloat16
