"""``openai:<base url>``: a deployment's OpenAI-compatible endpoint as the thing measured.

The workload never loads a model. It names the endpoint (base URL, served model, API), checks
that it answers before anything is measured, and records what the endpoint says about itself:
the models ``/models`` lists, the ``server`` header, and the command that started it when
benchsuite did (``--serve``). Its only variant is ``as-served``: the deployment as its server
runs it (a quantization or an engine is a second endpoint, compared side by side).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import torch

from benchsuite.errors import UsageError
from benchsuite.instruments.endpoint_client import Endpoint, HTTPStatusError, get_json
from benchsuite.results import SourceFacts
from benchsuite.sources.serve import unreachable
from benchsuite.sources.spec import TEXT_GENERATION, ModelSpec
from benchsuite.workload.base import EvalData, Workload
from benchsuite.workload.batch import Batch

if TYPE_CHECKING:  # the variants module names this source's one variant
    from benchsuite.variants import Variant

AS_SERVED = "as-served"
SERVER_HEADER = "Server"


@dataclass(frozen=True)
class EndpointFacts:
    """What the endpoint said about itself, for every row."""

    base_url: str
    served_model: str
    api: str
    listed_models: tuple[str, ...]
    server_header: str
    command: str | None
    local: bool

    def columns(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.base_url,
            "endpoint_served_model": self.served_model,
            "endpoint_api": self.api,
            "endpoint_server": f"server header {self.server_header or '(none)'}; /models lists "
            + (", ".join(self.listed_models) or "nothing (no /models: the name given was used)"),
            "endpoint_command": self.command,
            "endpoint_local": self.local,
        }


def is_local_host(host: str) -> bool:
    """Whether ``host`` is this machine: a loopback address, or one of this machine's own."""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    own = {"0.0.0.0", "::"}
    with contextlib.suppress(OSError):
        own |= {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    return all(ipaddress.ip_address(a.split("%")[0]).is_loopback or a in own for a in addresses)


class EndpointWorkload(Workload):
    """An endpoint named by a :class:`ModelSpec` whose source is ``openai:<base url>``."""

    quality_metric = None
    quality_metrics = ()
    served_elsewhere = True

    def __init__(self, spec: ModelSpec) -> None:
        if spec.task != TEXT_GENERATION:
            raise UsageError(
                f"--model {spec.source}: an endpoint serves text generation; pass --task "
                f"{TEXT_GENERATION} (got {spec.task})"
            )
        self.spec = spec
        self.name = spec.name
        self.description = f"{spec.source} ({spec.served_model or 'its one model'}, {spec.api})"

    @property
    def base_url(self) -> str:
        return self.spec.location.rstrip("/")

    def rebuild_spec(self) -> ModelSpec:
        return self.spec

    @cached_property
    def facts(self) -> EndpointFacts:
        probe = Endpoint(self.base_url, "", self.spec.api)
        served = self.spec.served_model
        try:
            listing, headers = asyncio.run(get_json(probe, "/models", 10.0))
            listed = tuple(str(entry["id"]) for entry in listing.get("data", []))
        except HTTPStatusError as error:
            if error.status != 404 or served is None:  # a server without /models (older TGI)
                raise unreachable(self.base_url, error) from None
            listing, headers, listed = {}, {}, ()
        except (OSError, TimeoutError, ValueError, KeyError, TypeError) as error:
            raise unreachable(self.base_url, error) from None
        if served is None:
            if len(listed) != 1:
                raise UsageError(
                    f"--model {self.spec.source}: the endpoint lists {len(listed)} models "
                    f"({', '.join(listed) or 'none'}); name one with --served-model NAME"
                )
            served = listed[0]
        elif listed and served not in listed:
            raise UsageError(
                f"--served-model {served}: {self.base_url}/models lists "
                f"{', '.join(listed)}; pass one of them"
            )
        return EndpointFacts(
            self.base_url,
            served,
            self.spec.api,
            listed,
            headers.get(SERVER_HEADER.lower(), ""),  # header names are case-insensitive
            self.spec.serve,
            is_local_host(probe.host),
        )

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.base_url, self.facts.served_model, self.spec.api)

    @cached_property
    def reference_workload(self) -> EndpointWorkload | None:
        """The endpoint this one is compared with, side by side (``None``: measured alone)."""
        if self.spec.reference is None:
            return None
        if not self.spec.reference.startswith("openai:"):
            raise UsageError(
                f"{self.spec.name}: reference {self.spec.reference!r} must name another "
                "endpoint (openai:<base url>, or another [[models]] entry's name)"
            )
        spec = ModelSpec(
            self.spec.reference,
            TEXT_GENERATION,
            served_model=self.spec.reference_served_model,
            api=self.spec.api,
        )
        return EndpointWorkload(spec)

    def source_facts(self) -> SourceFacts:
        return SourceFacts(
            self.spec.source,
            self.spec.task,
            f"served:{self.facts.served_model}",
            "openai-compatible endpoint",
            self.facts.server_header,
            "a seeded stream of real text (see prompt_stream)",
        )

    def eval_texts(self) -> tuple[str, ...]:
        """The prompts' source texts from ``eval_data``, when the spec names a file."""
        if self.spec.eval_data is None:
            return ()
        from benchsuite.sources.eval_files import read_eval_table

        table = read_eval_table(self.spec.eval_data, [self.spec.text_column], self.spec.eval_limit)
        return tuple(str(text) for text in table[self.spec.text_column])

    def labelled_prompts(self) -> tuple[tuple[str, str], ...]:
        """(text, label) pairs from ``eval_data`` when it has the label column: the task's
        accuracy is whether the greedy answer to the text begins with its label."""
        if self.spec.eval_data is None:
            return ()
        from benchsuite.sources.eval_files import read_eval_table

        columns = [self.spec.text_column, self.spec.label_column]
        try:
            table = read_eval_table(self.spec.eval_data, columns, self.spec.eval_limit)
        except UsageError:
            return ()  # no label column: the texts feed the prompt stream only
        return tuple(
            (str(text), str(label))
            for text, label in zip(table[columns[0]], table[columns[1]], strict=True)
        )

    def check(self) -> None:
        """The endpoint (and its reference) answer and serve the model named (or exactly one);
        its eval data, when named, reads."""
        _ = self.facts
        if self.reference_workload is not None:
            _ = self.reference_workload.facts
        if self.spec.eval_data is not None:
            self.eval_texts()

    def variant_unsupported_reason(self, variant: Variant, device: str) -> str | None:
        if variant.name != AS_SERVED:
            return (
                f"an endpoint is measured as it is served ({AS_SERVED}); serve the {variant.name} "
                "form as a second endpoint and compare the two"
            )
        return None

    def example_batch(self, batch_size: int) -> Batch:
        raise UsageError(
            f"{self.spec.source}: an endpoint runs the endpoint scenarios only "
            "(endpoint, endpoint-capacity, endpoint-users)"
        )

    def eval_data(self) -> EvalData | None:
        return None

    def reference_model(self) -> torch.nn.Module:
        raise UsageError(f"{self.spec.source}: an endpoint has no model in this process")
