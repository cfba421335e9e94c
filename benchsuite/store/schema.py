"""The versioned column schema of the Parquet store. Units are in the column names.

Adding a column: append it here and bump ``SCHEMA_VERSION``. Readers fill columns that an older
file lacks with nulls, so old runs stay readable. Never rename or retype a column in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 15  # 2: output_rel_error; 3: cosine_similarity, error_traceback;
# 4: model_source, model_task, model_revision, model_library(_versions), input_note, flops_note;
# 5: generation (prompt_tokens, output_tokens, ttft_*, tpot_*, energy per request and token, ...)
# 6: server (load_pct, offered/achieved rps, latency bound, energy per request under load, ...)
# 7: runtime, runtime_version (PyTorch, ONNX Runtime, OpenVINO, scikit-learn); energy_stop_reason
# 8: executor_node (the Ray node that measured the case)
# 9: energy_per_sample_cpu_j / _dram_j / _gpu_j and energy_parts (the split by part, and kinds)
# 10: rounds (comparison_group, measure_order, repeats, rounds, latency_interval_method, the paired
#     latency_ratio / energy_ratio to the group's fp32 with intervals, group_drift_*_rel)
# 11: pinned_cpus (the CPUs a comparison group's processes ran on)
# 12: variant_backend (the kernel path that ran the calls), threads_used; ratio_processes,
#     latency_ratio_resolved / energy_ratio_resolved (the paired ratio's interval over processes
#     is within the suite's ratio_resolution_rel)
# 13: endpoints (endpoint_*, itl_*, goodput_rps, slo, saturated, request faults, energy per
#     output and total token, tokens_per_j, the client's own CPU time and TTFT)
# 14: A/B runs (ab_*: two versions of the code side by side, the candidate/baseline ratios)
# 15: fleet meters: energy_per_sample_soc_j / _platform_j / _unattributed_j, energy_part_sources,
#     energy_per_device_j, and the windows' checks (energy_coverage, energy_max_gap_s,
#     energy_counter_power_rel)


class Status(StrEnum):
    """A case's outcome. A ``StrEnum``: stored as its plain string value."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


STATUS_OK = Status.OK
STATUS_FAILED = Status.FAILED
STATUS_SKIPPED = Status.SKIPPED

_str, _int, _float, _bool = pa.string(), pa.int64(), pa.float64(), pa.bool_()

CASE_COLUMNS: dict[str, pa.DataType] = {
    # identity
    "schema_version": _int,
    "run_id": _str,
    "suite": _str,
    "case_id": _str,
    "workload": _str,
    "variant": _str,
    "device": _str,
    "scenario": _str,
    "batch_size": _int,
    "threads": _int,
    "prompt_tokens": _int,  # generation cases: tokens in each prompt
    "output_tokens": _int,  # generation cases: tokens generated per request (forced)
    "load_pct": _int,  # server cases: offered load, percent of the measured maximum throughput
    "status": _str,
    "error": _str,
    "error_traceback": _str,  # where a failed case raised (benchsuite run --in-process prints it)
    "started_at_utc": _str,
    "finished_at_utc": _str,
    "case_wall_s": _float,
    # what was measured: a model named by the user (hf:...), where it came from
    "model_source": _str,  # hf:<hub id or folder>
    "model_task": _str,
    "model_revision": _str,  # the hub commit, or local:<digest of the folder's files>
    "model_library": _str,  # transformers, sentence-transformers, scikit-learn
    "model_library_versions": _str,
    "input_note": _str,  # what fed the model: its tokenizer on which texts, or synthetic inputs
    # what was measured: model
    "variant_recipe": _str,
    "variant_detail": _str,
    "runtime": _str,  # what executed the calls: pytorch, onnxruntime, openvino, scikit-learn
    "runtime_version": _str,
    "sparsity": _float,
    "param_count": _int,
    "model_size_bytes": _int,
    "flops_per_sample": _int,
    "flops_note": _str,  # how FLOPs were stated, or why there are none (scikit-learn models)
    # quality
    "quality_metric": _str,
    "accuracy": _float,
    "top1_agreement": _float,
    "output_rel_error": _float,  # ||y - y_fp32|| / ||y_fp32|| over the eval inputs
    "cosine_similarity": _float,  # mean cosine of each output to the fp32 output (embeddings)
    "eval_samples": _int,
    # training cases (scenario "training")
    "train_target_accuracy": _float,
    "train_reached_target": _bool,
    "train_stop_reason": _str,
    "train_epochs": _int,
    "train_samples": _int,
    "train_time_s": _float,
    "train_samples_per_s": _float,
    "train_repeats": _int,
    "train_energy_j": _float,
    "train_energy_per_sample_j": _float,
    "train_co2e_g": _float,
    # generation cases (scenario "generation"); latency_* is then end to end per request
    "ttft_p50_ms": _float,  # time to first token: the prefill and the first token
    "ttft_p90_ms": _float,
    "ttft_p99_ms": _float,
    "tpot_p50_ms": _float,  # time per output token after the first, per request
    "tpot_p90_ms": _float,
    "tpot_p99_ms": _float,
    "output_tokens_per_s": _float,  # batch x output tokens / median request latency
    "prefill_tokens_per_s": _float,  # batch x prompt tokens / median TTFT
    # server cases (scenarios "server" and "server-capacity"); latency_* is then per request,
    # end to end with its time in the queue, and batch_size the largest batch the server forms
    "max_throughput_rps": _float,  # the largest batch back to back: what load_pct is of
    "offered_rps": _float,
    "achieved_rps": _float,
    "arrival_process": _str,  # poisson (seed), or the replayed trace
    "planned_requests": _int,
    "served_requests": _int,  # fewer than planned when the window stopped early
    "max_queue_wait_ms": _float,
    "latency_bound_ms": _float,  # on p99
    "latency_bound_met": _bool,
    "energy_per_request_j": _float,
    "energy_per_request_net_j": _float,  # net of idle power over the load window
    "idle_energy_share": _float,  # idle power x window / window energy
    "mean_batch_size_formed": _float,
    "batch_size_histogram": _str,  # "size:batches ..."
    "loadgen_overhead_us_per_request": _float,  # the serving loop's own time per request
    "loadgen_overhead_share": _float,  # of the load window
    "loadgen_late_wakeup_p99_us": _float,  # how late the loop's sleeps woke, p99
    "capacity_rps": _float,  # server-capacity: the highest rate meeting the bound
    "capacity_search": _str,  # how it was searched
    "energy_per_output_token_j": _float,
    "energy_prefill_per_request_j": _float,  # a prefill-only window
    "energy_prefill_per_request_low_j": _float,
    "energy_prefill_per_request_high_j": _float,
    "energy_decode_per_request_j": _float,  # full request minus prefill
    "energy_decode_per_request_low_j": _float,
    "energy_decode_per_request_high_j": _float,
    "token_agreement": _float,  # greedy tokens equal to the fp32 model's, over generated tokens
    "perplexity": _float,  # exp(mean NLL) over a fixed token stream
    # warm-up
    "warmup_calls": _int,
    "warmup_s": _float,
    "warmup_settled": _bool,
    # latency (per call of batch_size samples)
    "sample_count": _int,
    "sampling_s": _float,
    "stop_reason": _str,
    "ci_target_rel": _float,
    "ci_half_width_rel": _float,
    "latency_p50_ms": _float,
    "latency_p50_ci_low_ms": _float,
    "latency_p50_ci_high_ms": _float,
    "latency_interval_method": _str,  # what the latency interval covers (one process, or more)
    "latency_p90_ms": _float,
    "latency_p99_ms": _float,
    "latency_mean_ms": _float,
    "latency_std_ms": _float,
    "latency_iqr_ms": _float,
    "latency_min_ms": _float,
    "latency_max_ms": _float,
    "throughput_samples_per_s": _float,
    # memory
    "peak_rss_bytes": _int,
    "peak_rss_reset": _bool,
    "device_peak_allocated_bytes": _int,
    # energy
    "energy_source": _str,
    "energy_kind": _str,
    "energy_domains": _str,
    "energy_model": _str,
    "energy_windows": _int,
    "energy_window_s": _float,
    "energy_interval_method": _str,
    "energy_per_sample_j": _float,
    "energy_per_sample_low_j": _float,
    "energy_per_sample_high_j": _float,
    "energy_net_per_sample_j": _float,
    "energy_total_j": _float,
    "idle_power_w": _float,
    "average_power_w": _float,
    "energy_valid": _bool,
    "energy_invalid_reason": _str,
    "energy_min_window_s": _float,
    "energy_stop_reason": _str,  # the windows policy, and the interval it reached
    # the total split by part (median over windows, per sample); null when no meter read it
    "energy_per_sample_cpu_j": _float,
    "energy_per_sample_dram_j": _float,
    "energy_per_sample_gpu_j": _float,
    "energy_parts": _str,  # which parts the total covers, and each one's kind
    "energy_meter_note": _str,
    # carbon (see benchsuite.instruments.carbon)
    "co2e_g_per_1000_samples": _float,
    "grid_g_co2e_per_kwh": _float,
    "grid_intensity_source": _str,
    "grid_region": _str,
    # environment fingerprint (see benchsuite.run.fingerprint)
    "env_host": _str,
    "env_os": _str,
    "env_cpu_model": _str,
    "env_cpu_count": _int,
    "env_memory_bytes": _int,
    "env_gpu_names": _str,
    "env_gpu_driver": _str,
    "env_python_version": _str,
    "env_torch_version": _str,
    "env_benchsuite_version": _str,
    "env_git_commit": _str,
    "env_git_dirty": _bool,
    "env_hardware_id": _str,
    "env_captured_at_utc": _str,
    # which node measured the case: a Ray node id under --executor ray, else null (this machine)
    "executor_node": _str,
    # rounds (see benchsuite.run.comparison): how the case was spread over time and processes
    "comparison_group": _str,  # the case id without the variant
    "comparison_reference": _str,  # the group's fp32 case (its reference for drift and ratios)
    "measure_order": _str,  # "interleaved" or "back to back" (null: measured in one go)
    "repeats": _int,  # worker processes the figures come from
    "rounds": _int,  # rounds in each
    "pinned_cpus": _str,  # the CPUs its processes ran on ("1"; "0,1"); null: not pinned
    # the paired ratio to the reference: the geometric mean of each process's median paired ratio
    "latency_ratio": _float,
    "latency_ratio_low": _float,
    "latency_ratio_high": _float,
    "energy_ratio": _float,
    "energy_ratio_low": _float,
    "energy_ratio_high": _float,
    "ratio_interval_method": _str,
    # how far the group's reference moved: median of its last third of rounds against its first
    "group_drift_latency_rel": _float,
    "group_drift_energy_rel": _float,
    # what ran the calls, with how many threads
    "variant_backend": _str,  # the kernel path: eager int8 kernels, a compiled graph, ...
    "threads_used": _int,  # intra-op threads torch used (the case's, or torch's default)
    # the paired ratios' intervals are over processes (the unit a re-run repeats): how many, and
    # whether each interval is within the suite's ratio_resolution_rel (else: unresolved)
    "ratio_processes": _int,
    "latency_ratio_resolved": _bool,
    "energy_ratio_resolved": _bool,
    # endpoint cases (scenarios "endpoint", "endpoint-capacity", "endpoint-users"): an
    # OpenAI-compatible server under load; ttft_*/tpot_* and the server columns above apply too
    "endpoint_url": _str,
    "endpoint_served_model": _str,
    "endpoint_api": _str,  # chat or completions
    "endpoint_server": _str,  # what it said about itself: the server header, the models listed
    "endpoint_command": _str,  # the command benchsuite started it with (--serve), else null
    "endpoint_local": _bool,  # on this machine: its energy is read here
    "ttft_p50_low_ms": _float,  # endpoints: the medians' 95 % intervals, by batch means
    "ttft_p50_high_ms": _float,
    "tpot_p50_low_ms": _float,
    "tpot_p50_high_ms": _float,
    "itl_p50_ms": _float,  # inter-token latency: the gaps between streamed chunks (see below)
    "itl_p90_ms": _float,
    "itl_p99_ms": _float,
    "slo": _str,  # the bounds a request meets to count in goodput ("TTFT <= 200 ms and ...")
    "slo_ttft_ms": _float,  # the same bounds as numbers (null: not bounded)
    "slo_tpot_ms": _float,
    "slo_e2e_ms": _float,
    "goodput_rps": _float,  # requests per second that met the SLO
    "saturated": _bool,  # the level stopped early: the requests in flight grew without bound
    "requests_failed": _int,  # timeouts, HTTP errors, truncated streams, refused connections
    "request_faults": _str,  # "timeout:2 http-error:1"
    "output_tokens_mean": _float,  # tokens received per answered request
    "stream_chunks_per_token": _float,  # 1: a chunk per token; less: chunks carry several
    "output_tokens_forced": _str,  # whether min_tokens/ignore_eos forced the lengths, and how
    "prompt_stream": _str,  # the seeded prompt stream and its hash
    "energy_per_output_token_net_j": _float,
    "energy_per_output_token_low_j": _float,  # its 95 % interval, by batch means over parts
    "energy_per_output_token_high_j": _float,
    "energy_per_total_token_j": _float,  # prompt and output tokens, as the server counted them
    "tokens_per_j": _float,  # output tokens per joule
    "client_cpu_s": _float,  # the load generator's own CPU time in the window (never charged)
    "client_cpu_per_request_ms": _float,
    "client_ttft_overhead_ms": _float,  # the client's TTFT against a server that answers at once
    "output_agreement": _float,  # greedy output words equal to the reference endpoint's
    # A/B runs (benchsuite compare): the row is the candidate's code; its ratios are over the
    # baseline's code, measured in the same job, taking turns (docs/gate.md)
    "ab_baseline": _str,  # the baseline's code: its ref and commit, or its folder
    "ab_candidate": _str,
    "ab_method": _str,  # interleaved rounds, or alternating whole runs, and how many
    "ab_pairs": _int,  # processes per arm (rounds), or pairs of whole runs
    "ab_latency_ratio": _float,  # candidate / baseline, paired; with its 95 % interval
    "ab_latency_ratio_low": _float,
    "ab_latency_ratio_high": _float,
    "ab_latency_ratio_resolved": _bool,
    "ab_energy_ratio": _float,
    "ab_energy_ratio_low": _float,
    "ab_energy_ratio_high": _float,
    "ab_energy_ratio_resolved": _bool,
    "ab_baseline_latency_p50_ms": _float,  # the baseline's own figures, measured beside
    "ab_baseline_energy_per_sample_j": _float,
    "ab_baseline_accuracy": _float,
    "ab_stopped_early": _str,  # the adaptive stop: why fewer processes than planned ran
    # the parts beyond cpu, dram and gpu (docs/energy.md, "Sources"): a system on chip or module
    # read as one; the whole machine at its power supply (beside the total, not in it); and what
    # the parts leave out of the platform's figure (fans, power-supply losses, NICs, disks)
    "energy_per_sample_soc_j": _float,
    "energy_per_sample_platform_j": _float,
    "energy_per_sample_unattributed_j": _float,
    "energy_part_sources": _str,  # "cpu: rapl, gpu: nvml, platform: redfish"
    "energy_per_device_j": _str,  # JSON: each GPU's energy per sample, by visible = physical id
    "energy_coverage": _float,  # the least share of a window a polled source's samples covered
    "energy_max_gap_s": _float,  # the largest gap between a polled source's samples
    "energy_counter_power_rel": _float,  # a counter against its own integrated power
}

SAMPLE_COLUMNS: dict[str, pa.DataType] = {
    "run_id": _str,
    "case_id": _str,
    "phase": _str,  # "warmup" or "sample"
    "index": _int,
    "latency_ns": _int,
}

ENERGY_WINDOW_COLUMNS: dict[str, pa.DataType] = {
    "run_id": _str,
    "case_id": _str,
    "window": _int,  # -1 is the idle window
    "calls": _int,
    "samples": _int,
    "duration_s": _float,
    "energy_j": _float,
    "net_energy_j": _float,
    "source": _str,
    "kind": _str,
    "domains": _str,
    "model": _str,
}

CASE_SCHEMA = pa.schema(list(CASE_COLUMNS.items()))
SAMPLE_SCHEMA = pa.schema(list(SAMPLE_COLUMNS.items()))
ENERGY_WINDOW_SCHEMA = pa.schema(list(ENERGY_WINDOW_COLUMNS.items()))


def check_row(row: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming every column of ``row`` the schema lacks, or whose value
    Arrow cannot store in the column's type."""
    unknown = sorted(set(row) - set(CASE_COLUMNS))
    if unknown:
        raise ValueError(f"columns not in benchsuite.store.schema.CASE_COLUMNS: {unknown}")
    for name, value in row.items():
        if value is None:
            continue
        try:
            pa.array([value], CASE_COLUMNS[name])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ValueError(
                f"column {name}: {value!r} does not fit {CASE_COLUMNS[name]} ({error})"
            ) from None


COLUMNS_DOC_START = "<!-- columns: generated from benchsuite/store/schema.py -->"
COLUMNS_DOC_END = "<!-- end of generated columns -->"


def columns_markdown() -> str:
    """The column list docs/measurement.md carries between its markers, made from
    :data:`CASE_COLUMNS` so that the docs cannot drift from the store (a test compares them)."""
    by_type: dict[str, list[str]] = {}
    for name, kind in CASE_COLUMNS.items():
        by_type.setdefault(str(kind), []).append(f"`{name}`")
    lines = [
        COLUMNS_DOC_START,
        f"Schema version {SCHEMA_VERSION}: {len(CASE_COLUMNS)} columns, by Arrow type, in the "
        "order the store writes them.",
        "",
        *(f"- {kind}: {', '.join(names)}" for kind, names in by_type.items()),
        COLUMNS_DOC_END,
    ]
    return "\n".join(lines)
