"""benchsuite and a peer load generator against the same local server and the same prompts.

Starts ``transformers serve`` with a tiny causal LM saved from a config (the test's model) on
127.0.0.1, then, at each rate, runs

* ``benchsuite run --model openai:... --scenarios endpoint`` (one level: ``max_rps`` stated as
  the rate, ``load_pct`` 100, Poisson arrivals), and
* ``guidellm run`` (``--profile kind=poisson,rate=R``, the same prompts as a JSONL file, the
  same ``max_tokens``; pass ``--guidellm PATH`` or have it on PATH: it is not a dependency),

each for ``--duration`` seconds of load, and prints TTFT, TPOT and throughput from each, the CPU
time each tool's processes used, and each one's time to a result (the whole command). Neither
tool forces the output length (``transformers serve`` refuses ``ignore_eos``).

    python benchmarks/bench_endpoint_peers.py --rates 10,30 --duration 8
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchsuite.instruments.endpoint_load import PromptStream  # noqa: E402
from benchsuite.sources.serve import ServerProcess, models_listed  # noqa: E402
from tests.serving import free_port, serve_command, tiny_chat_model  # noqa: E402

PROMPT_WORDS = 16
OUTPUT_TOKENS = 8


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    cpu, start = _children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    return done, time.perf_counter() - start, _children_cpu_s() - cpu


def run_benchsuite(url: str, rate: float, duration_s: float, folder: Path) -> dict[str, object]:
    suite = folder / "suite.toml"
    suite.write_text(
        '[[matrix]]\nworkloads = ["unused"]\n[measure]\nidle_s = 0.5\n[endpoints]\n'
        f"duration_s = {duration_s}\nmax_rps = {rate}\nwarmup_requests = 4\n"
    )
    results = folder / f"bs-{rate:g}"
    done, wall_s, cpu_s = _timed(
        [
            sys.executable,
            "-m",
            "benchsuite",
            "run",
            "--model",
            f"openai:{url}",
            "--suite",
            str(suite),
            "--prompt-tokens",
            str(PROMPT_WORDS),
            "--output-tokens",
            str(OUTPUT_TOKENS),
            "--load-pct",
            "100",
            "--meter",
            "estimate",
            "--results",
            str(results),
            "--no-report",
        ],
        folder,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchsuite failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    (run,) = results.iterdir()
    row = pd.read_parquet(run / "cases").iloc[0]
    return {
        "tool": "benchsuite",
        "offered_rps": row["offered_rps"],
        "achieved_rps": row["achieved_rps"],
        "completed": int(row["served_requests"]),
        "ttft_p50_ms": row["ttft_p50_ms"],
        "ttft_p99_ms": row["ttft_p99_ms"],
        "tpot_p50_ms": row["tpot_p50_ms"],
        "output_tok_s": row["output_tokens_per_s"],
        "tool_cpu_s": cpu_s,
        "load_client_cpu_s": row["client_cpu_s"],
        "time_to_result_s": wall_s,
    }


def run_guidellm(
    guidellm: str, url: str, rate: float, duration_s: float, folder: Path, prompts: Path
) -> dict[str, object]:
    out = folder / f"guidellm-{rate:g}.json"
    done, wall_s, cpu_s = _timed(
        [
            guidellm,
            "run",
            "--backend",
            f"kind=openai_http,target={url.removesuffix('/v1')},max_tokens={OUTPUT_TOKENS}",
            "--profile",
            f"kind=poisson,rate={rate}",
            "--data",
            f"kind=json_file,path={prompts}",
            "--constraint",
            f"kind=max_duration,seconds={duration_s}",
            "--output",
            f"kind=json,path={out}",
            "--disable-console-interactive",
        ],
        folder,
    )
    if done.returncode != 0:
        raise SystemExit(f"guidellm failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    benchmark = json.loads(out.read_text())["benchmarks"][0]
    metrics = benchmark["metrics"]

    def ok(name: str) -> dict[str, object]:
        return metrics[name]["successful"]

    ttft = ok("time_to_first_token_ms")
    return {
        "tool": "guidellm",
        "offered_rps": rate,
        "achieved_rps": ok("requests_per_second")["mean"],
        "completed": ttft["count"],
        "ttft_p50_ms": ttft["median"],
        "ttft_p99_ms": ttft["percentiles"]["p99"],
        "tpot_p50_ms": ok("time_per_output_token_ms")["median"],
        "output_tok_s": ok("output_tokens_per_second")["mean"],
        "tool_cpu_s": cpu_s,
        "load_client_cpu_s": None,
        "time_to_result_s": wall_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="10,30", help="offered requests per second")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per level")
    parser.add_argument("--guidellm", default=shutil.which("guidellm"), help="its command")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        model = tiny_chat_model(folder / "tiny-chat")
        prompts = folder / "prompts.jsonl"
        stream = PromptStream(PROMPT_WORDS)
        prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in stream.prompts(2000)))
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1"
        with ServerProcess(serve_command(model, port), url, folder / "serve.log", 120) as server:
            print(f"server ready at {url}, serving {', '.join(models_listed(server.endpoint))}")
            rows = []
            for rate in rates:
                rows.append(run_benchsuite(url, rate, args.duration, folder))
                if args.guidellm:
                    peer = run_guidellm(args.guidellm, url, rate, args.duration, folder, prompts)
                    rows.append(peer)
                else:
                    print("guidellm not found: pass --guidellm PATH (pip install guidellm)")
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
