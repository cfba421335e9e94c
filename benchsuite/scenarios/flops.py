"""FLOPs of one call, counted by torch's ``FlopCounterMode``.

The counter knows matmul-like operators (convolutions, linear layers, attention) and counts a
multiply-add as 2 FLOPs; elementwise work is not counted, so figures are lower bounds.

PyTorch's Transformer layers take a fused "fast path" in inference (one
``_transformer_encoder_layer_fwd`` kernel) that the counter cannot see into: counted as is, a
Transformer encoder shows only its head. Counting therefore turns the fast path off, and runs
attention with the plain "math" kernel (CPU's fused attention kernel is not counted either, while
CUDA's is): the fused kernels do the same matrix products, so the count is the same arithmetic
on every device.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from benchsuite.variants.base import mha_fastpath_disabled


def count_flops(call: Callable[[], object]) -> int:
    """FLOPs of ``call()``, with the fused Transformer fast path and attention kernels off."""
    with (
        mha_fastpath_disabled(),
        sdpa_kernel(SDPBackend.MATH),
        FlopCounterMode(display=False) as counter,
    ):
        call()
    return int(counter.get_total_flops())
