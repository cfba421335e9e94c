"""The variant registry: bundled variants, variants a user registers in code, and variants a
package declares under the ``benchsuite.variants`` entry-point group, all by one path.

From your own code (a workload file, a conftest, a script)::

    from benchsuite import PreparedModel, register_variant

    @register_variant("channels-last", recipe="NHWC memory format", devices=("cpu", "cuda"))
    def channels_last(model, device, workload):
        model = model.to(device, memory_format=torch.channels_last).eval()
        return PreparedModel(model, device, detail="channels_last")

From a package, in its ``pyproject.toml``::

    [project.entry-points."benchsuite.variants"]
    my-variants = "my_package.variants"   # a module whose import registers them

Entry points are loaded the first time the registry is read. A case worker process loads them
too, and imports the workload's file, so a variant registered there is known in the worker.
"""

from __future__ import annotations

from collections.abc import Callable

from benchsuite.errors import UsageError, did_you_mean
from benchsuite.variants.base import Requirement, Transform, Variant
from benchsuite.workload.discovery import entry_point_objects

ENTRY_POINT_GROUP = "benchsuite.variants"
ANY_DEVICE = ("cpu", "cuda")

_VARIANTS: dict[str, Variant] = {}
_entry_points_loaded = False


def add_variant(variant: Variant, replace: bool = False) -> Variant:
    """Register ``variant``; a second variant of the same name is refused unless ``replace``."""
    if not variant.name or "/" in variant.name:
        raise UsageError(f"variant name must be non-empty and without '/': {variant.name!r}")
    known = _VARIANTS.get(variant.name)
    if known is not None and not replace and known.transform is not variant.transform:
        raise UsageError(
            f"variant {variant.name!r} is already registered ({known.recipe}); choose another "
            "name, or pass replace=True"
        )
    _VARIANTS[variant.name] = variant
    return variant


def register_variant(
    name: str,
    *,
    recipe: str,
    devices: tuple[str, ...] = ANY_DEVICE,
    requires: Requirement | None = None,
    static_shapes: bool = False,
    runtime: str = "pytorch",
    replace: bool = False,
) -> Callable[[Transform], Transform]:
    """Decorator: register ``transform(model, device, workload) -> PreparedModel`` as a variant.

    ``recipe`` is the sentence every row and report card shows; ``devices`` the device types it
    runs on (others become ``skipped`` rows); ``requires(workload)`` returns why a workload
    cannot take it, or ``None``; ``static_shapes`` says its module is specialised to the shapes
    it has seen, and ``runtime`` what runs it when that is not PyTorch (see :class:`Variant`).
    The decorated function is returned unchanged.
    """

    def decorate(transform: Transform) -> Transform:
        add_variant(
            Variant(name, recipe, tuple(devices), transform, requires, static_shapes, runtime),
            replace,
        )
        return transform

    return decorate


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for loaded in entry_point_objects(ENTRY_POINT_GROUP):
        if isinstance(loaded, Variant):
            add_variant(loaded)


def all_variants() -> dict[str, Variant]:
    """Every registered variant by name, bundled first (a copy: register to add one)."""
    _load_entry_points()
    return dict(_VARIANTS)


def get_variant(name: str) -> Variant:
    variants = all_variants()
    try:
        return variants[name]
    except KeyError:
        raise UsageError(
            f"unknown variant {name!r}{did_you_mean(name, variants)}; "
            f"known variants: {', '.join(variants)}"
        ) from None
