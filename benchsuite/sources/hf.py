"""Hugging Face models by name: ``hf:<hub id>`` from the local cache, or ``hf:<folder>``.

The model is loaded through transformers' Auto class for its task (or sentence-transformers,
where the folder is a sentence-transformers model), and fed by its own preprocessor: the
tokenizer at ``sequence_length`` tokens (padded and truncated to exactly that), or the image
processor. Texts come from the eval file, else from a few built-in sentences; images from the
eval file, else seeded random images. A folder without a preprocessor gets synthetic inputs
(seeded random token ids, or normal pixel values), and every row says which (``input_note``).

A hub id is read from the local cache only when ``HF_HUB_OFFLINE`` is set (or nothing is
cached and the hub cannot be reached): the user then gets one line naming the model and the fix.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import itertools
import os
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchsuite.errors import ModelSourceError
from benchsuite.results import SourceFacts
from benchsuite.sources.eval_files import read_eval_table
from benchsuite.sources.spec import ModelSpec
from benchsuite.workload.base import EvalData, Workload
from benchsuite.workload.batch import Batch

SAMPLE_TEXTS = (
    "The service was quick and the staff were friendly.",
    "I would not recommend this product to anyone I know.",
    "The train left the station ten minutes after noon.",
    "A small model can be much cheaper to run than a large one.",
    "Energy per inference depends on the batch size and the hardware.",
    "The weather stayed cold and grey for the whole week.",
    "She read the report twice before the meeting started.",
    "Numbers without units are hard to compare.",
)
SYNTHETIC_SAMPLES = 64
SEED = 0
_AUTO_CLASSES = {
    "text-classification": "AutoModelForSequenceClassification",
    "feature-extraction": "AutoModel",
    "image-classification": "AutoModelForImageClassification",
    "text-generation": "AutoModelForCausalLM",
}
_QUALITY = {
    "text-classification": ("accuracy", "top1_agreement", "output_rel_error"),
    "image-classification": ("accuracy", "top1_agreement", "output_rel_error"),
    "feature-extraction": ("cosine_similarity", "output_rel_error"),
    "text-generation": ("top1_agreement", "output_rel_error"),
}


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ModelSourceError(
            f"hf: models need {module}, which is not installed: pip install 'benchsuite[hf]'"
        ) from None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class LoadedModel:
    model: nn.Module
    library: str  # "transformers" or "sentence-transformers"
    revision: str
    tokenizer: Any | None
    image_processor: Any | None
    config: Any


def _folder(location: str) -> Path | None:
    path = Path(location).expanduser()
    if path.is_dir():
        return path
    if location.startswith((".", "/", "~")) or os.sep in location.strip("/").split("/", 1)[-1]:
        raise ModelSourceError(
            f"hf:{location}: no such folder; pass a folder that save_pretrained wrote, or a hub id"
        )
    return None


def _folder_revision(folder: Path) -> str:
    """A local folder has no commit: a digest of its config and weight files' names and sizes."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin"):
            digest.update(f"{path.relative_to(folder)}:{path.stat().st_size}".encode())
    digest.update(
        (folder / "config.json").read_bytes() if (folder / "config.json").is_file() else b""
    )
    return f"local:{digest.hexdigest()[:12]}"


def _hub_revision(location: str, config: Any) -> str:
    """The commit of the cached snapshot a hub id was read from (its folder's name)."""
    commit = getattr(config, "_commit_hash", None)
    if commit:
        return str(commit)
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return "unknown"
    for name in ("config.json", "modules.json"):
        cached = try_to_load_from_cache(location, name)
        if isinstance(cached, str):
            return Path(cached).parent.name
    return "unknown"


class HubUnreachable(OSError):
    """The hub's host did not answer a connection within a few seconds."""


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the hub's host (``HF_ENDPOINT``, default huggingface.co) takes a connection: one
    quick probe, instead of huggingface_hub's five retries over half a minute."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urllib.parse.urlparse(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _from_pretrained(cls: Any, location: str, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` from local files first; from the hub only when it may be asked
    and answers."""
    try:
        return cls.from_pretrained(location, local_files_only=True, **kwargs)
    except OSError:
        if _offline() or Path(location).expanduser().is_dir():
            raise
    if not _hub_reachable():
        raise HubUnreachable(location)
    return cls.from_pretrained(location, **kwargs)


def _not_cached(location: str, error: Exception) -> ModelSourceError:
    return ModelSourceError(
        f"hf:{location}: not in the local Hugging Face cache, and the hub is offline "
        f"({_why_offline(error)}); download it once "
        f"where the hub is reachable (hf download {location}), or pass a folder that "
        "save_pretrained wrote: --model hf:/path/to/folder"
    )


def _why_offline(error: Exception) -> str:
    if _offline():
        return "HF_HUB_OFFLINE is set"
    if isinstance(error, HubUnreachable):
        return "the hub cannot be reached"
    return f"{type(error).__name__}: {error}"


def _is_sentence_transformers(location: str, folder: Path | None) -> bool:
    if folder is not None:
        return (folder / "modules.json").is_file()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(location, "modules.json"), str)


def _quietly() -> None:
    transformers = _require("transformers")
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_model(location: str, task: str) -> LoadedModel:
    """The model at ``location`` for ``task``, its preprocessor (``None`` when the folder has
    none) and where it came from. Raises :class:`ModelSourceError` with the fix."""
    transformers = _require("transformers")
    _quietly()
    folder = _folder(location)
    try:
        if task == "feature-extraction" and _is_sentence_transformers(location, folder):
            _require("sentence_transformers")
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(
                str(folder) if folder else location, device="cpu", local_files_only=_offline()
            )
            first = model[0]
            config = getattr(getattr(first, "auto_model", None), "config", None)
            tokenizer = getattr(model, "tokenizer", None)
            library = "sentence-transformers"
            image_processor = None
        else:
            auto = getattr(transformers, _AUTO_CLASSES[task])
            model = _from_pretrained(auto, location)
            config = model.config
            tokenizer = (
                _optional(transformers.AutoTokenizer, location, TOKENIZER_FILES)
                if task != "image-classification"
                else None
            )
            image_processor = (
                _optional(transformers.AutoImageProcessor, location, IMAGE_PROCESSOR_FILES)
                if task == "image-classification"
                else None
            )
            library = "transformers"
    except OSError as error:
        if folder is None:
            raise _not_cached(location, error) from None
        raise ModelSourceError(
            f"hf:{location}: cannot load a {task} model from this folder ({error}); check the "
            "folder and --task"
        ) from None
    except (ValueError, KeyError) as error:
        raise ModelSourceError(
            f"hf:{location}: cannot load it for --task {task} ({type(error).__name__}: {error}); "
            "check --task"
        ) from None
    if tokenizer is not None and getattr(tokenizer, "pad_token", None) is None:
        tokenizer.pad_token = tokenizer.eos_token  # causal LMs ship without a padding token
    revision = _folder_revision(folder) if folder else _hub_revision(location, config)
    return LoadedModel(model.eval(), library, revision, tokenizer, image_processor, config)


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "tokenizer.model",
)
IMAGE_PROCESSOR_FILES = ("preprocessor_config.json",)


def _has_any(location: str, folder: Path | None, names: tuple[str, ...]) -> bool:
    """Whether the folder (or the cached hub snapshot) holds one of ``names``: transformers
    would otherwise make an empty tokenizer from the config alone, turning every word into
    [UNK]."""
    if folder is not None:
        return any((folder / name).is_file() for name in names)
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return True
    return any(isinstance(try_to_load_from_cache(location, name), str) for name in names)


def _optional(cls: Any, location: str, files: tuple[str, ...]) -> Any | None:
    """A preprocessor, or ``None`` where the folder has none."""
    if not _has_any(location, _folder(location), files):
        return None
    try:
        return _from_pretrained(cls, location)
    except (OSError, ValueError, KeyError, TypeError):
        return None


class HuggingFaceWorkload(Workload):
    """A Hugging Face model named by a :class:`ModelSpec`, loaded on first use (in each worker)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.description = f"{spec.source} ({spec.task})"
        self.quality_metrics = _QUALITY[spec.task]

    def rebuild_spec(self) -> ModelSpec:
        """What a worker process rebuilds this workload from."""
        return self.spec

    @cached_property
    def loaded(self) -> LoadedModel:
        return load_model(self.spec.location, self.spec.task)

    def check(self) -> None:
        """Load the model and read the eval data now: a bad source, file or label fails with
        its message before anything is measured."""
        if self.spec.eval_data is not None:
            _ = self._eval_table  # a missing file or column fails before the model loads
        _ = self.loaded
        if self.spec.eval_data is not None:
            self.eval_data()

    def reference_model(self) -> nn.Module:
        return self.loaded.model

    @cached_property
    def _student(self) -> nn.Module | None:
        if self.spec.student is None:
            return None
        return load_model(self.spec.student.removeprefix("hf:"), self.spec.task).model

    def pretrained_student(self) -> nn.Module | None:
        return self._student

    @property
    def quality_metric(self) -> str | None:  # type: ignore[override]
        """Accuracy with labelled eval data; else the first fidelity metric of the task."""
        fidelity = [name for name in _QUALITY[self.spec.task] if name != "accuracy"]
        labelled = self._eval_table is not None and self.spec.task.endswith("classification")
        return "accuracy" if labelled else fidelity[0]

    # inputs ---------------------------------------------------------------------------------

    @cached_property
    def _eval_table(self) -> Any | None:
        if self.spec.eval_data is None:
            return None
        columns = [self._input_column(), self.spec.label_column]
        return read_eval_table(self.spec.eval_data, columns, self.spec.eval_limit)

    def _input_column(self) -> str:
        image = self.spec.task == "image-classification"
        return self.spec.image_column if image else self.spec.text_column

    def _accepted(self, batch: dict[str, torch.Tensor]) -> Batch:
        """Only the tensors the model's forward takes (a tokenizer may add token_type_ids that a
        DistilBERT does not accept); sentence-transformers takes one mapping."""
        model = self.loaded.model
        if self.loaded.library == "sentence-transformers":
            return ({k: v for k, v in batch.items() if isinstance(v, torch.Tensor)},)
        models = [model] + ([self._student] if self._student is not None else [])
        accepted = {
            key
            for key in batch
            if all(key in inspect.signature(m.forward).parameters for m in models)
        }
        return {key: value for key, value in batch.items() if key in accepted}

    def _texts(self, count: int) -> list[str]:
        table = self._eval_table
        pool = [str(t) for t in table[self.spec.text_column]] if table is not None else SAMPLE_TEXTS
        return list(itertools.islice(itertools.cycle(pool), count))

    def _image_size(self) -> int:
        if self.spec.image_size is not None:
            return self.spec.image_size
        size = getattr(self.loaded.image_processor, "size", None) or {}
        if isinstance(size, Mapping):
            for key in ("height", "shortest_edge"):
                if key in size:
                    return int(size[key])
        return int(getattr(self.loaded.config, "image_size", 224))

    def _images(self, count: int) -> list[Any]:
        table = self._eval_table
        if table is not None:
            from PIL import Image

            base = Path(self.spec.eval_data or ".").parent
            paths = list(itertools.islice(itertools.cycle(table[self.spec.image_column]), count))
            return [Image.open(base / str(path)).convert("RGB") for path in paths]
        size = self._image_size()
        generator = np.random.default_rng(SEED)
        return [generator.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]

    def _sequence_length(self) -> int:
        """The declared length, cut to the model's maximum when it is shorter (noted on rows)."""
        maximum = getattr(self.loaded.config, "max_position_embeddings", None)
        if isinstance(maximum, int) and 0 < maximum < self.spec.sequence_length:
            return maximum
        return self.spec.sequence_length

    def _inputs(self, count: int) -> Batch:
        loaded = self.loaded
        generator = torch.Generator().manual_seed(SEED)
        if self.spec.task == "image-classification":
            if loaded.image_processor is None:
                size = self._image_size()
                return {"pixel_values": torch.randn(count, 3, size, size, generator=generator)}
            processed = loaded.image_processor(images=self._images(count), return_tensors="pt")
            return self._accepted(dict(processed))
        length = self._sequence_length()
        if loaded.tokenizer is None:
            vocabulary = int(getattr(loaded.config, "vocab_size", 1000))
            ids = torch.randint(0, vocabulary, (count, length), generator=generator)
            return self._accepted({"input_ids": ids, "attention_mask": torch.ones_like(ids)})
        encoded = loaded.tokenizer(
            self._texts(count),
            padding="max_length",
            truncation=True,
            max_length=length,
            return_tensors="pt",
        )
        return self._accepted(dict(encoded))

    def generation_prompt(self, batch_size: int, prompt_tokens: int) -> torch.Tensor:
        """Prompts of exactly ``prompt_tokens`` tokens: the texts tokenized end to end and cut
        (no padding, so every position is real text), or seeded random ids without a tokenizer."""
        tokenizer = self.loaded.tokenizer
        if tokenizer is None:
            vocabulary = int(getattr(self.loaded.config, "vocab_size", 1000))
            generator = torch.Generator().manual_seed(SEED)
            return torch.randint(0, vocabulary, (batch_size, prompt_tokens), generator=generator)
        rows = []
        for index in range(batch_size):
            ids: list[int] = []
            texts = itertools.cycle(self._texts(len(SAMPLE_TEXTS) + index)[index:])
            while len(ids) < prompt_tokens:
                ids += tokenizer(next(texts), add_special_tokens=False)["input_ids"]
            rows.append(ids[:prompt_tokens])
        return torch.tensor(rows, dtype=torch.long)

    def example_batch(self, batch_size: int) -> Batch:
        return self._inputs(batch_size)

    def eval_data(self) -> EvalData:
        table = self._eval_table
        if table is None:
            return EvalData(self._inputs(SYNTHETIC_SAMPLES), None, SYNTHETIC_SAMPLES)
        count = len(table)
        labels = None
        if self.spec.task.endswith("classification"):
            labels = self._labels(list(table[self.spec.label_column]))
        return EvalData(self._inputs(count), labels, count)

    def _labels(self, values: list[Any]) -> torch.Tensor:
        label2id = {
            str(k): int(v) for k, v in (getattr(self.loaded.config, "label2id", None) or {}).items()
        }
        ids = []
        for value in values:
            if isinstance(value, int | np.integer):
                ids.append(int(value))
            elif str(value) in label2id:
                ids.append(label2id[str(value)])
            else:
                raise ModelSourceError(
                    f"{self.spec.eval_data}: label {value!r} is neither a class index nor one of "
                    f"the model's labels ({', '.join(label2id) or 'none in config.json'}); fix "
                    f"the {self.spec.label_column} column"
                )
        return torch.tensor(ids, dtype=torch.long)

    # outputs and provenance ------------------------------------------------------------------

    def read_output(self, output: object) -> torch.Tensor:
        if isinstance(output, Mapping) and "sentence_embedding" in output:
            return output["sentence_embedding"]
        if self.spec.task == "feature-extraction":
            hidden = getattr(output, "last_hidden_state", None)
            if isinstance(hidden, torch.Tensor):
                return hidden  # every token's state: no pooling is invented
        return super().read_output(output)

    def _input_note(self) -> str:
        loaded, spec = self.loaded, self.spec
        table = f"from {spec.eval_data}" if spec.eval_data else None
        if spec.task == "image-classification":
            size = self._image_size()
            if loaded.image_processor is None:
                return f"synthetic: normal pixel values {size}x{size} (no image processor found)"
            images = f"images {table}" if table else f"seeded random {size}x{size} images"
            return f"{images}, through the model's image processor"
        length = self._sequence_length()
        if length != spec.sequence_length:
            cut = f" (the model's maximum; {spec.sequence_length} asked)"
        else:
            cut = ""
        if loaded.tokenizer is None:
            return f"synthetic: seeded random token ids x {length}{cut} (no tokenizer found)"
        texts = f"texts {table}" if table else "built-in sample sentences"
        return f"{texts}, the model's tokenizer, padded to {length} tokens{cut}"

    def source_facts(self) -> SourceFacts:
        loaded = self.loaded
        versions = [
            f"transformers {_version('transformers')}",
            f"tokenizers {_version('tokenizers')}",
        ]
        if loaded.library == "sentence-transformers":
            versions.insert(0, f"sentence-transformers {_version('sentence-transformers')}")
        return SourceFacts(
            model_source=self.spec.source,
            model_task=self.spec.task,
            model_revision=loaded.revision,
            model_library=loaded.library,
            model_library_versions=", ".join(versions),
            input_note=self._input_note(),
        )
