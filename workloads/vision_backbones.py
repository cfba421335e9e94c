"""Vision backbones at 224×224: a standard-convolution residual network (ResNet-18 layout) and a
depthwise-separable mobile network (MobileNetV2 layout), at their published sizes.

They are here for what inference costs at production input sizes: FLOPs, latency, memory and
energy of a mobile-style network against a residual one. No dataset ships offline for them, so
they are not trained: weights are seeded random initialisations, and quality is reported as not
applicable (no accuracy, no top-1 agreement: the untrained MobileNetV2 gives nearly the same
logits for every class, so its arg-max is rounding noise). How far each variant moves the outputs
from the fp32 model's is still measured (``output_rel_error``), on 32 fixed random images.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from benchsuite import EvalData, Workload

IMAGE_SIZE = 224
CLASSES = 1000


def _conv_bn(
    inputs: int,
    outputs: int,
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    activation: type[nn.Module] | None = nn.ReLU,
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(outputs),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn(inputs, outputs, 3, stride), _conv_bn(outputs, outputs, 3, activation=None)
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and inputs == outputs
            else _conv_bn(inputs, outputs, 1, stride, activation=None)
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016): 11.7 M parameters, about 1.8 G multiply-adds at 224×224."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
        inputs = 64
        for outputs, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(inputs, outputs, stride), BasicBlock(outputs, outputs, 1)]
            inputs = outputs
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class InvertedResidual(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = inputs * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(_conv_bn(inputs, hidden, 1, activation=nn.ReLU6))
        layers += [
            _conv_bn(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),  # depthwise
            _conv_bn(hidden, outputs, 1, activation=None),  # pointwise projection
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018): 3.5 M parameters, about 300 M multiply-adds."""

    SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 32, 3, 2, activation=nn.ReLU6)]
        inputs = 32
        for expansion, outputs, repeats, stride in self.SETTINGS:
            for index in range(repeats):
                layers.append(
                    InvertedResidual(inputs, outputs, stride if index == 0 else 1, expansion)
                )
                inputs = outputs
        layers.append(_conv_bn(inputs, 1280, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@functools.cache
def _images(count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)


class _Backbone(Workload):
    quality_metric = None  # untrained: accuracy does not apply

    def example_batch(self, batch_size: int) -> torch.Tensor:
        return _images(batch_size, seed=0).clone()

    def eval_data(self) -> EvalData:
        return EvalData(_images(32, seed=1), labels=None)


class ResNet18Workload(_Backbone):
    name = "resnet18-224"
    description = "ResNet-18 layout, standard 3x3 convolutions, 224x224, untrained (cost only)"

    def build_model(self) -> nn.Module:
        return ResNet18()


class MobileNetV2Workload(_Backbone):
    name = "mobilenetv2-224"
    description = (
        "MobileNetV2 layout, depthwise-separable convolutions, 224x224, untrained (cost only)"
    )

    def build_model(self) -> nn.Module:
        return MobileNetV2()
