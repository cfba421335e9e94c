"""The gate's outputs: Markdown (for people and $GITHUB_STEP_SUMMARY), JUnit XML, JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from xml.etree import ElementTree

from benchsuite.gate.decide import INCONCLUSIVE, NO_BASELINE, PASS, REGRESSION, GateResult

_ICON = {
    PASS: "✅ pass",
    REGRESSION: "❌ regression",
    INCONCLUSIVE: "⚠️ inconclusive",
    NO_BASELINE: "ℹ️ first run, nothing to compare",
}


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(result: GateResult) -> str:
    if result.notice is not None:
        return (
            f"## benchsuite gate: {_ICON[result.verdict]}\n\n"
            f"Candidate **{_escape(result.candidate)}**, baseline "
            f"**{_escape(result.baseline)}**.\n\n"
            f"**Notice:** {_escape(result.notice)}\n"
        )
    lines = [
        f"## benchsuite gate: {_ICON[result.verdict]}",
        "",
        f"Candidate **{_escape(result.candidate)}** against baseline **{_escape(result.baseline)}**"
        + (
            f", regressions confirmed by re-run **{_escape(result.confirmed_by)}**"
            if result.confirmed_by
            else ""
        )
        + f" ({_escape(result.rules_source)}): {result.count(REGRESSION)} regression(s), "
        f"{result.count(INCONCLUSIVE)} inconclusive, {result.count(PASS)} pass.",
        "",
        "| case | metric | verdict | why |",
        "| --- | --- | --- | --- |",
    ]
    for case in sorted(
        result.cases,
        key=lambda c: (-["pass", "inconclusive", "regression"].index(c.verdict), c.case_id),
    ):
        for metric in case.metrics:
            if (
                metric.verdict == PASS
                and case.verdict == PASS
                and metric.metric != "latency_p50_ms"
            ):
                continue  # keep passing cases to one line
            lines.append(
                f"| `{_escape(case.case_id)}` | {metric.metric} | {_ICON[metric.verdict]} "
                f"| {_escape(metric.reason)} |"
            )
    if result.trends:
        lines += [
            "",
            "### Shifts in the nightly history",
            "",
            "| case | metric | shifted at run | change |",
            "| --- | --- | --- | --- |",
        ]
        for trend in result.trends:
            lines.append(
                f"| `{_escape(trend['case_id'])}` | {trend['metric']} | `{trend['run_id']}` "
                f"| {trend['change'] * 100:+.1f} % |"
            )
    if result.unmatched:
        lines += ["", "### Not compared (no like-for-like partner)", ""]
        lines += [f"- {_escape(item)}" for item in result.unmatched]
    return "\n".join(lines) + "\n"


def to_junit(result: GateResult) -> str:
    suite = ElementTree.Element(
        "testsuite",
        name="benchsuite-gate",
        tests=str(sum(len(c.metrics) for c in result.cases)),
        failures=str(sum(m.verdict == REGRESSION for c in result.cases for m in c.metrics)),
        skipped=str(sum(m.verdict == INCONCLUSIVE for c in result.cases for m in c.metrics)),
    )
    if result.notice is not None:
        ElementTree.SubElement(suite, "system-out").text = result.notice
    for case in result.cases:
        for metric in case.metrics:
            element = ElementTree.SubElement(
                suite, "testcase", classname=case.case_id, name=metric.metric
            )
            if metric.verdict == REGRESSION:
                ElementTree.SubElement(
                    element, "failure", message=metric.reason
                ).text = metric.reason
            elif metric.verdict == INCONCLUSIVE:
                ElementTree.SubElement(element, "skipped", message=metric.reason)
            else:
                ElementTree.SubElement(element, "system-out").text = metric.reason
    ElementTree.indent(suite)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + ElementTree.tostring(suite, encoding="unicode")
        + "\n"
    )


def to_json(result: GateResult) -> str:
    document = {
        "verdict": result.verdict,
        "notice": result.notice,
        "baseline": result.baseline,
        "candidate": result.candidate,
        "confirmed_by": result.confirmed_by,
        "rules": result.rules_source,
        "counts": {v: result.count(v) for v in (PASS, REGRESSION, INCONCLUSIVE)},
        "cases": [
            {"case_id": c.case_id, "verdict": c.verdict, "metrics": [asdict(m) for m in c.metrics]}
            for c in result.cases
        ],
        "unmatched": result.unmatched,
        "trends": result.trends,
    }
    return json.dumps(document, indent=2, default=float) + "\n"
