"""``benchsuite run --executor ray``: each case a Ray task, on a node that has its device.

The placement rules:

- **A node that has the case's device.** A ``cpu`` case may go to any node; a ``cuda`` case only
  to a node with GPUs, and, when the suite names an accelerator type (``accelerator_type =
  "H100"`` in the suite file), only to a node with Ray's ``accelerator_type:H100`` resource,
  which Ray sets on nodes with that GPU. A case no live node can take is a ``skipped`` row that
  says so.
- **One case at a time per node.** RAPL counts a whole CPU package and NVML a whole GPU, so two
  cases measured side by side on one node would each read the other's energy, and share its
  cores and memory bandwidth. The driver keeps at most one case in flight per node (pinned there
  with a hard node-affinity rule), and the task asks Ray for all of the node's CPUs (and GPUs for
  a ``cuda`` case), so that no other Ray work lands beside it. Cases on different GPUs of one
  node are not run at once either: the host's CPU and DRAM that feed every GPU are one meter.
- **Each node writes its own rows** into the shared store (:mod:`benchsuite.run.fleet.job`), so
  ``--results`` must be reachable from every node: an object store (``s3://...``), or a folder on
  a shared file system.
- **A lost node or a crashed worker is a failed row** that the driver writes, naming what was
  lost; no task is retried (a retry would measure the case twice into one run), and the run goes
  on. ``--resume RUN_ID`` measures the cases a run is missing, across the fleet.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchsuite.errors import UsageError
from benchsuite.run.fleet.job import CaseJob, lost_row, run_job
from benchsuite.run.runner import RunObserver
from benchsuite.store.location import StoreLocation
from benchsuite.store.runs import write_case
from benchsuite.store.schema import Status

RAY_EXTRA = "pip install 'benchsuite[ray]'"
POLL_S = 0.5
"""How often the driver looks for finished cases and for nodes that joined or left."""


@dataclass(frozen=True)
class Node:
    node_id: str
    cpus: float
    gpus: float
    resources: Mapping[str, float]

    def can_run(self, device: str, accelerator_type: str | None) -> bool:
        if device == "cpu":
            return self.cpus > 0
        if not device.startswith("cuda") or self.gpus <= 0:
            return False
        return accelerator_type is None or f"accelerator_type:{accelerator_type}" in self.resources


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(f"--executor ray needs Ray: {RAY_EXTRA}") from None
    return ray


def _measure_on_node(job: CaseJob) -> dict[str, Any]:
    """The Ray task: measure one case on the node it was placed on."""
    import ray

    return run_job(job, ray.get_runtime_context().get_node_id())


class RayExecutor:
    """Runs a suite's cases on a Ray cluster: the one at ``address``, the one ``RAY_ADDRESS``
    names, one already joined by ``ray.init()`` in this process, or else a one-node cluster on
    this machine."""

    name = "ray"

    def __init__(self, address: str | None = None, accelerator_type: str | None = None) -> None:
        self.address = address
        self.accelerator_type = accelerator_type

    def run(self, jobs: Sequence[CaseJob], observer: RunObserver | None) -> list[dict[str, Any]]:
        ray = _import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            try:
                ray.init(
                    address=self.address,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise UsageError(
                    f"--ray-address {self.address}: cannot join the Ray cluster ({error}); "
                    "check the address (HOST:PORT of the head node) and that the cluster is up"
                ) from None
        try:
            return self._dispatch(ray, list(jobs), observer)
        finally:
            if started_here:
                ray.shutdown()

    def _nodes(self, ray: Any) -> dict[str, Node]:
        return {
            node["NodeID"]: Node(
                node["NodeID"],
                node["Resources"].get("CPU", 0.0),
                node["Resources"].get("GPU", 0.0),
                dict(node["Resources"]),
            )
            for node in ray.nodes()
            if node["Alive"]
        }

    def _dispatch(
        self, ray: Any, pending: list[CaseJob], observer: RunObserver | None
    ) -> list[dict[str, Any]]:
        task = ray.remote(max_retries=0)(_measure_on_node)
        total = len(pending)
        in_flight: dict[Any, tuple[CaseJob, str]] = {}  # task ref -> (job, node id)
        rows: list[dict[str, Any]] = []
        started = 0

        def finished(job: CaseJob, row: dict[str, Any]) -> None:
            rows.append(row)
            if observer is not None:
                observer.case_finished(len(rows) - 1, total, job.case, row)

        try:
            while pending or in_flight:
                nodes = self._nodes(ray)
                busy = {node for _, node in in_flight.values()}
                for job in list(pending):
                    placed = self._place(task, job, nodes, busy, in_flight)
                    if placed is None and not self._could_wait(job, in_flight, nodes):
                        pending.remove(job)
                        finished(job, self._unplaceable(job))
                    elif placed:
                        pending.remove(job)
                        if observer is not None:
                            observer.case_started(started, total, job.case)
                        started += 1
                if not in_flight:
                    time.sleep(POLL_S)  # every live node busy elsewhere: wait for one
                    continue
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
                for reference in done:
                    job, node_id = in_flight.pop(reference)
                    finished(job, self._collect(ray, reference, job, node_id))
        except BaseException:
            for reference in in_flight:  # Ctrl-C: nothing keeps measuring on the fleet
                ray.cancel(reference, force=True)
            raise
        return rows

    def _place(
        self,
        task: Any,
        job: CaseJob,
        nodes: Mapping[str, Node],
        busy: set[str],
        in_flight: dict[Any, tuple[CaseJob, str]],
    ) -> bool | None:
        """Send ``job`` to a free node that can run it: ``True`` when sent, ``False`` when every
        such node is busy, ``None`` when no live node can run it."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        able = [n for n in nodes.values() if n.can_run(job.case.device, self.accelerator_type)]
        if not able:
            return None
        free = [n for n in able if n.node_id not in busy]
        if not free:
            return False
        node = free[0]
        options = {
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node.node_id, soft=False),
            "num_cpus": node.cpus,
            "num_gpus": node.gpus if job.case.device.startswith("cuda") else 0,
            "name": f"benchsuite {job.case.id}",
        }
        in_flight[task.options(**options).remote(job)] = (job, node.node_id)
        busy.add(node.node_id)
        return True

    def _could_wait(
        self, job: CaseJob, in_flight: Mapping[Any, tuple[CaseJob, str]], nodes: Mapping[str, Node]
    ) -> bool:
        """Whether a job no live node can run now is worth waiting for: a node now busy could
        take it later."""
        return bool(in_flight) and self._could_free(job, in_flight, nodes)

    def _could_free(
        self, job: CaseJob, in_flight: Mapping[Any, tuple[CaseJob, str]], nodes: Mapping[str, Node]
    ) -> bool:
        """Whether a node now busy could take ``job`` later (else waiting is pointless)."""
        return any(
            node in nodes and nodes[node].can_run(job.case.device, self.accelerator_type)
            for _, node in in_flight.values()
        )

    def _unplaceable(self, job: CaseJob) -> dict[str, Any]:
        wanted = job.case.device
        if wanted.startswith("cuda") and self.accelerator_type:
            wanted += f" ({self.accelerator_type}, Ray resource accelerator_type:"
            wanted += f"{self.accelerator_type})"
        row = lost_row(
            job,
            Status.SKIPPED,
            f"no live node in the Ray cluster has {wanted}; add one, or "
            "run the case where that device is",
        )
        self._write_for(job, row)
        return row

    def _collect(self, ray: Any, reference: Any, job: CaseJob, node_id: str) -> dict[str, Any]:
        try:
            row: dict[str, Any] = ray.get(reference)
            return row
        except ray.exceptions.RayError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            row = lost_row(
                job,
                Status.FAILED,
                f"the Ray worker measuring this case on node {node_id[:12]} was lost "
                f"({type(error).__name__}: {first_line}); the case has no result, and the "
                "run went on without it",
                node_id,
            )
            self._write_for(job, row)
            return row

    def _write_for(self, job: CaseJob, row: dict[str, Any]) -> None:
        """The driver writes the row of a case whose node could not."""
        write_case(StoreLocation(job.store), job.run_id, job.file_name(), row)
