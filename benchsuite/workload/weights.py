"""A cache of trained weights, keyed by a hash of what produced them.

The key hashes the workload's source file, the recipe that trained the weights (for example
"reference" or "distilled student"), and torch's version, so editing the workload or its training
retrains on the next run and nothing stale is reused. Files live in ``$BENCHSUITE_CACHE_DIR``
(default ``~/.cache/benchsuite/weights``) and are written atomically.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

CACHE_DIR_ENV = "BENCHSUITE_CACHE_DIR"


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "benchsuite" / "weights"


def definition_hash(owner: object, recipe: str) -> str:
    """Hash of the source file that defines ``owner``'s class, the recipe and torch's version."""
    source_file = inspect.getsourcefile(type(owner))
    source = Path(source_file).read_bytes() if source_file else repr(type(owner)).encode()
    digest = hashlib.sha256(source)
    digest.update(recipe.encode())
    digest.update(torch.__version__.split("+")[0].encode())
    return digest.hexdigest()[:16]


def cached_weights(
    name: str, key: str, build: Callable[[], nn.Module], train: Callable[[nn.Module], object]
) -> tuple[nn.Module, bool]:
    """The model ``build()`` returns, with weights from the cache or from ``train(model)``.

    Returns the model in eval mode and whether the weights came from the cache. An unreadable
    cache file is ignored and rewritten.
    """
    model = build()
    path = cache_dir() / f"{name}-{key}.pt"
    if path.is_file():
        try:
            model.load_state_dict(torch.load(path, weights_only=True))
            return model.eval(), True
        except (OSError, RuntimeError, EOFError, ValueError):
            model = build()
    train(model)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(model.state_dict(), temporary)
        os.replace(temporary, path)
    except OSError:
        pass  # an unwritable cache only costs a retrain next time
    return model.eval(), False
