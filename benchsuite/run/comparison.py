"""Comparison groups measured in interleaved rounds, in several processes.

A comparison group is the cases of a run that differ only by variant: same workload, device,
scenario (one measured in rounds: single-stream and offline, ``Scenario.in_rounds``), batch size
and threads. The report's central claim ("int8
costs 47 % more than fp32") is a ratio inside such a group, and measuring its cases one after
another, minutes apart, puts the machine's drift into that ratio (docs/measurement.md). So:

1. **Rounds, interleaved.** Each case of the group is held ready in its own worker process
   (:mod:`benchsuite.run.held_case`); the coordinator asks them for a round each in turn (A B C,
   then C B A, ...): a short latency slice and one energy window (where the meter is coarse, in some
   of the rounds only: :attr:`benchsuite.instruments.rounds.RoundsConfig.windows`). Drift within the
   group's minute hits every variant alike.
2. **Repeats.** This is done ``repeats`` times, each time in fresh processes, as pyperf spreads a
   benchmark over worker processes: what one process happens to get (its memory layout) is then
   part of the interval rather than hidden in it. All of a group's processes run on the same
   CPUs (:mod:`benchsuite.run.affinity`): the cores differ in how fast they run one variant against
   another, and a pair on two cores carried that into its ratio.
3. **Paired ratios** and 4. **drift**, from the rounds gathered here: :mod:`benchsuite.run.pooling`.
   For each round, the variant's figure over the reference's (fp32) in the
   same repeat and round; the row carries the median of these ratios with its interval.
4. **Drift, seen.** The reference's per-round figures, in time order, say how far the machine
   moved during the group (last third of its rounds against the first); above
   :data:`~benchsuite.run.pooling.DRIFT_WARN_REL` the run and the report warn.

Other scenarios (generation, server, training) keep one case per process, measured in one go:
their protocols (a request stream, a training run to a target) do not split into short rounds.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from benchsuite.case import Case
from benchsuite.instruments.meters.base import EnergyReading
from benchsuite.instruments.rounds import RoundResult, RoundsConfig
from benchsuite.run.affinity import CpuSet, allowed_cpus, group_cpus
from benchsuite.run.held_case import Readiness, SessionResult

REFERENCE_VARIANT = "fp32"
"""The reference's latency or energy per sample moving more than this between its first and
last rounds (:func:`relative_change`) is a warning on the run and in the report."""


class Session(Protocol):
    """A case held ready somewhere (a worker process: :class:`benchsuite.run.worker.SessionWorker`;
    in a test, an object in this process)."""

    def ready(self) -> Readiness: ...

    def round(self, index: int, rounds: int, window: bool = True) -> RoundResult: ...

    def finish(self) -> SessionResult: ...

    def kill(self) -> None: ...


StopEarly = Callable[[dict[Case, "CaseRounds"], int], str | None]
"""Asked after each repeat with the states so far and the repeats done: a reason to stop the
group now, or ``None`` to go on."""

StartSession = Callable[[Case, EnergyReading | None, CpuSet | None], Session]
"""Start a session of a case on the given CPUs (``None``: wherever the scheduler puts it): its
first process (which also judges quality and reads the idle power) gets no idle reading; each
repeat after it gets the one the first took."""


def group_id(case: Case) -> str:
    """The comparison group of ``case``: its id without the variant."""
    parts = case.id.split("/")
    return "/".join([parts[0], *parts[2:]])


def comparison_groups(cases: Sequence[Case]) -> list[list[Case]]:
    """``cases`` in groups of the same :func:`group_id`, in the order each group first appears."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(group_id(case), []).append(case)
    return list(groups.values())


@dataclass
class CaseRounds:
    """Everything the coordinator gathered for one case of a group."""

    case: Case
    rounds: list[tuple[int, RoundResult]] = field(default_factory=list)
    """(repeat, round) in the order they ran."""
    sessions: list[SessionResult] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    error_where: str | None = None
    busy_s: float = 0.0
    """Time spent in this case's own requests: its share of the group's wall time."""
    plan: RoundsConfig | None = None
    """The rounds it ran: the suite's, with as many rounds per process as the group's slowest
    member allows (set once its first processes are ready)."""
    most_rounds: int | None = None
    """What its first process said its model's speed allows (:class:`Readiness`)."""
    cpus: list[CpuSet | None] = field(default_factory=list)
    """The CPUs each of its processes ran on, in repeat order (``None``: not pinned)."""
    stopped_early: str | None = None
    """Why the group ran fewer repeats than planned (an adaptive stop), else ``None``."""

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.error is None


def run_rounds(
    cases: Sequence[Case],
    start: StartSession,
    config: RoundsConfig,
    on_start: Callable[[Case], None] = lambda case: None,
    allowed: CpuSet | None = None,
    stop_early: StopEarly | None = None,
) -> dict[Case, CaseRounds]:
    """Measure ``cases`` (one comparison group) in ``config.repeats`` sets of processes of
    at most ``config.rounds`` rounds each (fewer where a member is slow: :func:`_plan`),
    interleaved or back to back, all on the same CPUs of ``allowed`` (this process's own by
    default) when ``config.pin_cpus``. A case whose session fails is marked and leaves the
    group; the others go on. ``stop_early``, asked after each repeat, ends the group sooner
    when it gives a reason (an A/B comparison whose verdict is already clear)."""
    states = {case: CaseRounds(case) for case in cases}
    cpus = None
    if config.pin_cpus and cases:  # the threads are the same for the whole group
        cpus = group_cpus(cases[0].threads, allowed_cpus() if allowed is None else allowed)
    one_repeat = _interleaved if config.interleave else _back_to_back
    for repeat in range(config.repeats):
        live = [case for case in cases if states[case].ok]
        run = _Repeat(start, config, repeat, cpus, on_start, states, {})
        try:
            one_repeat(live, run)
        finally:  # Ctrl-C or anything else here: no process of the group goes on waiting
            for session in run.sessions.values():
                session.kill()
        reason = stop_early(states, repeat + 1) if stop_early is not None else None
        if reason is not None and repeat + 1 < config.repeats:
            for state in states.values():
                state.stopped_early = reason
            break
    return states


@dataclass(frozen=True)
class _Repeat:
    """One set of a group's processes: which repeat, on which CPUs, started how; the cases'
    states, and the sessions open now (each closed by the end of the repeat)."""

    start: StartSession
    config: RoundsConfig
    repeat: int
    cpus: CpuSet | None
    on_start: Callable[[Case], None]
    states: dict[Case, CaseRounds]
    sessions: dict[Case, Session]

    def open(self, state: CaseRounds) -> Session | None:
        if self.repeat == 0:
            self.on_start(state.case)
        return _start(self.start, state, self.repeat, self.cpus)


def _interleaved(live: list[Case], run: _Repeat) -> None:
    """Every live case's process started, then the rounds taking turns (A B C, C B A, ...)."""
    states, sessions = run.states, run.sessions
    for case in live:
        session = run.open(states[case])
        if session is not None:
            sessions[case] = session
    if run.repeat == 0:  # the first processes say how many rounds the slowest allows
        _plan([states[case] for case in sessions], run.config)
    rounds = _plan_of(states[next(iter(sessions))]).rounds if sessions else 0
    for index in range(rounds):
        turn = run.repeat * rounds + index
        for case in _ordered([c for c in live if c in sessions], turn):
            if not _round(sessions, states[case], run.repeat, index):
                del sessions[case]
    for case in list(sessions):
        _finish(sessions.pop(case), states[case])


def _back_to_back(live: list[Case], run: _Repeat) -> None:
    """Each live case's process in turn, all its rounds at once (the order without pairing)."""
    states, sessions = run.states, run.sessions
    for case in live:
        session = run.open(states[case])
        if session is None:
            continue
        sessions[case] = session
        if run.repeat == 0:
            _plan([states[case]], run.config)
        own = range(_plan_of(states[case]).rounds)
        if all(_round(sessions, states[case], run.repeat, i) for i in own):
            _finish(session, states[case])
        sessions.pop(case, None)


def _plan(states: list[CaseRounds], config: RoundsConfig) -> int:
    """Give ``states`` (a group's cases, or one case run back to back) as many rounds per
    process as the slowest of them allows, for every repeat: their rounds pair one to one."""
    allowed = [state.most_rounds for state in states if state.most_rounds is not None]
    plan = config.with_rounds(min([config.rounds, *allowed]))
    for state in states:
        state.plan = plan
    return plan.rounds


def _plan_of(state: CaseRounds) -> RoundsConfig:
    assert state.plan is not None, "a case's rounds are planned once its first process is ready"
    return state.plan


def _ordered(cases: list[Case], turn: int) -> list[Case]:
    """The order of round ``turn`` (counted across repeats): forward, then backward (A B C,
    C B A, ...). Over a pair of rounds every variant is as often before the reference as after
    it, by the same distance, so a linear drift adds as much to one round's ratio as it takes
    from the next, and their median is untouched (with rotation, A B C, B C A, C A B, the
    offsets are +1, -2, +1 places and the median keeps the +1)."""
    return cases if turn % 2 == 0 else cases[::-1]


@contextlib.contextmanager
def _busy(state: CaseRounds) -> Iterator[None]:
    """Count the time inside the block as the case's own."""
    start = time.perf_counter()
    try:
        yield
    finally:
        state.busy_s += time.perf_counter() - start


def _fail(state: CaseRounds, error: Exception) -> None:
    """Record why the case left the group: a worker's own description when it gave one."""
    if hasattr(error, "where"):  # SessionLost: the worker's message and traceback
        state.error, state.error_where = str(error), error.where
    else:
        state.error = f"{type(error).__name__}: {error}"
        state.error_where = traceback.format_exc()


def _start(
    start: StartSession, state: CaseRounds, repeat: int, cpus: CpuSet | None
) -> Session | None:
    try:
        with _busy(state):
            idle = state.sessions[0].idle if state.sessions else None
            session = start(state.case, idle, cpus)
            readiness = session.ready()
    except Exception as error:  # a failing case is a row, and the group goes on
        _fail(state, error)
        return None
    if readiness.skipped is not None:
        state.skipped = readiness.skipped
        session.kill()
        return None
    if repeat == 0:
        state.most_rounds = readiness.most_rounds
    state.cpus.append(readiness.cpus)
    return session


def _round(sessions: dict[Case, Session], state: CaseRounds, repeat: int, index: int) -> bool:
    session = sessions[state.case]
    plan = _plan_of(state)
    window = index in plan.window_rounds(repeat)
    try:
        with _busy(state):
            state.rounds.append((repeat, session.round(index, plan.rounds, window)))
        return True
    except Exception as error:
        _fail(state, error)
        session.kill()
        return False


def _finish(session: Session, state: CaseRounds) -> None:
    try:
        with _busy(state):
            state.sessions.append(session.finish())
    except Exception as error:
        _fail(state, error)
        session.kill()
