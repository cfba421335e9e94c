"""The HTML report: what it says, that names are text, and that a real browser opens it offline."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from benchsuite.report import render_report
from benchsuite.report.data import efficiency_label, pareto_front
from benchsuite.run.runner import run_suite
from benchsuite.store.runs import ResultStore
from benchsuite.suites.load import parse_suite
from benchsuite.workload.discovery import discover_workloads
from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_efficiency_labels_follow_the_stated_rule() -> None:
    assert [efficiency_label(r) for r in (0.3, 0.5, 0.7, 1.0, 1.2, 3.0)] == [
        "A",
        "A",
        "B",
        "C",
        "D",
        "E",
    ]
    assert efficiency_label(None) is None


def test_pareto_front_keeps_only_undominated_points() -> None:
    # (cost, quality): the second is cheaper and better than the first; the third is costlier
    # but better than both; the fourth is dominated by the second
    assert pareto_front([(2.0, 0.90), (1.0, 0.95), (3.0, 0.99), (1.5, 0.94)]) == {1, 2}


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) run of a workload whose name is an HTML script tag."""
    folder = tmp_path_factory.mktemp("hostile")
    workloads = folder / "workloads"
    workloads.mkdir()
    source = (DATA / "tiny_workloads" / "tiny_mlp.py").read_text()
    (workloads / "hostile.py").write_text(
        source.replace('name = "tiny-mlp"', 'name = "<script>alert(1)"')
    )
    suite = parse_suite(
        "[measure]\nwarmup_max_s = 0.1\nbudget_s = 0.1\nci_target_rel = 0.2\nenergy_windows = 1\nrepeats = 1\n"
        'energy_window_s = 0.02\nidle_s = 0.02\n[[matrix]]\nworkloads = ["<script>alert(1)"]\n'
        'variants = ["fp32", "prune50"]\n',
        source="hostile.toml",
    )
    store = ResultStore(folder / "r")
    result = run_suite(suite, discover_workloads(workloads), store)
    return render_report(store, result.run_id, folder / "h")


def test_a_script_tag_in_a_name_is_text(hostile_report: Path) -> None:
    pages = [hostile_report, *sorted((hostile_report.parent / "cards").glob("*.html"))]
    assert len(pages) == 3
    for page in pages:
        html = page.read_text()
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)" in html


@pytest.mark.slow
def test_smoke_report_says_how_figures_were_obtained(smoke_run) -> None:  # type: ignore[no-untyped-def]
    _, out = smoke_run
    html = (out / "h" / "index.html").read_text()
    assert "Efficiency report: suite <em>smoke</em>" in html
    assert "estimate (estimated)" in html and "not measured" in html
    assert "Pareto front" in html or "<svg" in html
    card = (out / "h" / "cards" / "digits-cnn--int8--cpu.html").read_text()
    assert "this run&#39;s fp32 on the same hardware" in card
    assert "from estimated energy" in card  # the smoke run's energy is estimated here
    # the int8 model was not trained by the run, and the fp32 training was estimated: no
    # emissions are claimed on either card
    for name in ("digits-cnn--int8--cpu.md", "digits-cnn--fp32--cpu.md"):
        model_card = (out / "h" / "cards" / name).read_text()
        header = model_card.split("---\n")[1]  # the YAML between the two --- lines
        assert model_card.startswith("---\n") and "co2_eq_emissions" not in header
        assert "No `co2_eq_emissions`: this run has no measured training run" in model_card
    assert re.search(r"\d(\.\d+)?e[+-]\d", html) is None  # no scientific notation


def _browser_or_skip() -> str:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip(
            "Debian's chromium is not installed and could not be (.ci/ensure-chromium "
            "needs root and apt-get): the browser test cannot run here"
        )
    pytest.importorskip("playwright", reason="playwright (test extra) drives chromium")
    return executable


@pytest.fixture(scope="module")
def pages_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of tests/data/pages.toml (every kind of table: classic and PyTorch models in
    rounds, generation at two batch sizes, a server under load, training), its report in h/."""
    out = tmp_path_factory.mktemp("pages")
    done = run_cli(
        "run",
        "--suite",
        str(DATA / "pages.toml"),
        "--results",
        str(out / "r"),
        "--reports",
        str(out / "h"),
        "--meter",
        "estimate",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


WIDTHS_PX = (1280, 390)  # a desktop and a phone


@pytest.mark.slow
def test_every_kind_of_page_opens_offline_in_chromium(pages_run: Path, tmp_path: Path) -> None:
    """The overview, a card of each kind (in rounds, classic model, generation, server,
    training) and the hardware page, at 1280 and 390 px: no element wider than its viewport,
    no console error, no request off this disk, charts with alt text. The screenshots land in
    $BENCHSUITE_SCREENSHOT_DIR (docs/screenshots/ holds the committed ones)."""
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    site = pages_run / "h"
    cards = {
        "card-rounds": "digits-cnn--int8--cpu.html",
        "card-classic": "digits-logistic--fp32--cpu.html",
        "card-generation": "tiny-llama--fp32--cpu.html",
        "card-server-training": "digits-cnn--fp32--cpu.html",
    }
    pages = {"overview": site / "index.html", "hardware": site / "hardware.html"}
    pages |= {name: site / "cards" / file for name, file in cards.items()}
    assert sorted(p.name for p in (site / "cards").glob("*.html")) == sorted(cards.values())
    overview = pages["overview"].read_text()
    for kind in ("generation", "server", "training"):  # each table is on the overview
        assert kind in overview
    assert "against batch size" in overview  # the TTFT/TPOT sweep: two batch sizes measured
    screenshots = Path(os.environ.get("BENCHSUITE_SCREENSHOT_DIR", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        for width in WIDTHS_PX:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            for name, path in pages.items():
                page.goto(path.as_uri())
                # no element is wider than the viewport: not the page, a table, a chart, a code
                wide = page.evaluate(
                    """width => Array.from(document.querySelectorAll('body *'))
                        .filter(e => e.getBoundingClientRect().right > width + 1)
                        .map(e => e.tagName + '.' + e.className)""",
                    width,
                )
                assert wide == [], (name, width, wide[:5])
                assert page.evaluate("document.documentElement.scrollWidth") <= width, name
                # no figure in scientific notation (a run id's random hex, "-4e6723", is not one)
                text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "RUN", page.inner_text("body"))
                assert re.search(r"\b\d+(\.\d+)?e[+-]?\d+\b", text) is None, name
                assert page.locator("script").count() == 0
                assert page.locator("table th").count() > 0  # tables have headers
                for figure in page.locator("figure").all():
                    assert figure.get_attribute("aria-label")  # charts have alt text
                shot = screenshots / f"{name}-{width}px.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            # what a stakeholder sees first: each workload's headline, in the first screen
            page.goto(pages["overview"].as_uri())
            headline = page.locator(".headline").first
            assert headline.is_visible()
            assert headline.bounding_box()["y"] < 900  # type: ignore[index]
            page.close()
        browser.close()
    assert problems == []
    assert all(url.startswith("file://") for url in requests), requests


def test_the_cross_hardware_page_lines_up_each_hardware_kind(tmp_path: Path) -> None:
    from benchsuite.report import render_report
    from benchsuite.store.runs import ResultStore
    from tests.test_gate import CASE, OTHER, _write_run

    store = ResultStore(tmp_path / "shared")
    _write_run(store, "20260101T000000Z-000001", {CASE: 60, OTHER: 90}, seed=1, hardware="hw1")
    _write_run(store, "20260102T000000Z-000002", {CASE: 600}, seed=2, hardware="hw2")
    _write_run(store, "20260103T000000Z-000003", {CASE: 61, OTHER: 91}, seed=3, hardware="hw1")
    _write_run(store, "20260104T000000Z-000004", {CASE: 1}, seed=4, hardware="hw3", suite="x")
    render_report(store, "20260103T000000Z-000003", tmp_path / "html")
    page = (tmp_path / "html" / "hardware.html").read_text()
    assert "hw1 · run 20260103T000000Z-000003" in page  # hw1's latest run
    assert "hw2 · run 20260102T000000Z-000002" in page
    assert "hw3" not in page  # another suite
    assert page.count("<tr><td><code>") == 2
    assert "not run" in page  # OTHER never ran on hw2
    assert 'href="hardware.html"' in (tmp_path / "html" / "index.html").read_text()


def test_the_caveats_say_the_estimate_s_method_once_for_a_run() -> None:
    from benchsuite.report.data import caveats_by_note

    def row(case_id: str, cpu_s: float, rss: float) -> dict[str, object]:
        return {
            "case_id": case_id,
            "scenario": "single-stream",
            "quality_metric": "accuracy",
            "status": "ok",
            "energy_kind": "estimated",
            "energy_source": "estimate",
            "energy_model": f"cpu_time_s={cpu_s} x cpu_w_per_core=10 + rss_gib={rss} x "
            "memory_w_per_gib=0.375 x wall_s=1.0012",
        }

    rows = [
        row(f"m/{v}/cpu/single-stream/b1", s, r)
        for v, s, r in [("fp32", 0.9, 0.5), ("int8", 0.4, 0.3)]
    ]
    estimated = [(note, cases) for note, cases in caveats_by_note(rows) if "estimated" in note]
    assert estimated == [
        (
            "energy is estimated, not measured (estimate model: cpu_time_s x cpu_w_per_core=10 + "
            "rss_gib x memory_w_per_gib=0.375 x wall_s; each card gives its case's inputs)",
            ["m/fp32/cpu/single-stream/b1", "m/int8/cpu/single-stream/b1"],
        )
    ]


def test_an_unresolved_ratio_gives_an_uncertain_label_and_no_precise_change() -> None:
    from benchsuite.report.data import Card, _label
    from benchsuite.report.headline import headline

    def row(variant: str, ratio: float, resolved: bool) -> dict[str, object]:
        return {
            "run_id": "r1",
            "case_id": f"m/{variant}/cpu/single-stream/b1/t1",
            "workload": "m",
            "variant": variant,
            "device": "cpu",
            "scenario": "single-stream",
            "batch_size": 1,
            "threads": 1,
            "status": "ok",
            "energy_valid": True,
            "energy_kind": "measured",
            "energy_per_sample_j": 0.01 * ratio,
            "latency_p50_ms": 1.0 * ratio,
            "comparison_reference": "m/fp32/cpu/single-stream/b1/t1",
            "energy_ratio": ratio,
            "latency_ratio": ratio,
            "energy_ratio_resolved": resolved,
            "latency_ratio_resolved": resolved,
        }

    fp32 = row("fp32", 1.0, True)
    for resolved in (True, False):
        int8 = row("int8", 0.6, resolved)
        card = Card("m", "int8", "cpu", [int8])
        _label(card, [fp32, int8], None, None)
        assert card.label == "B" and card.label_uncertain is not resolved
        trade_off = headline([fp32, int8])[-1].text
        assert ("may save about 40 %" in trade_off) is not resolved
        assert ("saves 40 %" in trade_off) is resolved
