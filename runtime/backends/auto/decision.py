"""How ``auto`` turns interleaved trial timings into a pick: fp32 backend first, then a rung.

Each contender's lower-quartile time decides (other load only ever adds time, so
the lower quartile is a contender's own speed on a busy machine). Among the fp32
backends the default (ONNX Runtime) keeps ties within ``MARGIN``. A reduced
precision (``openvino:bf16``, ...) replaces the fp32 pick only when it is clearly
faster: its lower quartile at least ``REDUCED_MARGIN`` below the fp32 pick's, and
faster in the majority of the interleaved rounds (call i of each side ran in the
same round, so one lucky call cannot decide). Otherwise fp32, the safe choice,
stands and the note says by how much the rung missed.
"""

from __future__ import annotations

from ptx.timing import lower_quartile

MARGIN = 0.02  # the default backend keeps the job unless the other is >2% faster
REDUCED_MARGIN = 0.05  # a reduced precision must be >= 5% faster than the fp32 pick


def decide(
    times: dict[str, list[float]], margin: float = MARGIN, default: str = "onnxruntime"
) -> tuple[str, str]:
    """The backend with the lowest lower-quartile time; ``default`` keeps ties within ``margin``."""
    q = {name: lower_quartile(ts) for name, ts in times.items() if ts}
    if not q:
        raise ValueError("decide() needs at least one backend with timings")
    best = min(q, key=q.__getitem__)
    if default in q and q[default] <= q[best] * (1 + margin):
        best = default
    parts = " vs ".join(f"{n} {q[n] * 1e3:.2f} ms" for n in sorted(q, key=q.__getitem__))
    n = min(len(ts) for ts in times.values() if ts)
    return best, f"{parts}, lower quartile of {n} interleaved runs"


def rounds_won(mine: list[float], theirs: list[float]) -> tuple[int, int]:
    """(rounds where ``mine`` was faster, rounds compared): call i of each ran in round i."""
    pairs = list(zip(mine, theirs, strict=False))
    return sum(a < b for a, b in pairs), len(pairs)


def clear_win(
    mine: list[float], theirs: list[float], margin: float = REDUCED_MARGIN
) -> tuple[bool, str]:
    """(wins, figures): ``mine`` beats ``theirs`` by >= ``margin`` and in most rounds."""
    a, b = lower_quartile(mine), lower_quartile(theirs)
    won, n = rounds_won(mine, theirs)
    ok = a <= b * (1 - margin) and 2 * won > n
    return ok, f"{b / a:.2f}x, faster in {won} of {n} rounds"


def decide_ladder(
    times: dict[str, list[float]],
    default: str,
    margin: float = MARGIN,
    reduced_margin: float = REDUCED_MARGIN,
) -> tuple[str, str, list[str], str]:
    """(winner, reason, why each slower rung lost, how the winner won) over fp32 and rungs."""
    fp32 = {n: ts for n, ts in times.items() if ":" not in n and ts}
    rungs = {n: ts for n, ts in times.items() if ":" in n and ts}
    _, reason = decide(times, margin, default)  # the figures of every contender
    winner, _ = decide(fp32 or times, margin, default)
    if not rungs or not fp32:
        return winner, reason, [], ""
    base = winner
    ranked = sorted(rungs, key=lambda n: lower_quartile(rungs[n]))
    lost, won = [], ""
    for rung in ranked:
        ok, figures = clear_win(rungs[rung], fp32[base], reduced_margin)
        if ok and winner == base:
            winner, won = rung, f"{figures} than {base}"
        elif ok:
            lost.append(f"{rung} was slower than {winner}")
        else:
            lost.append(
                f"{rung} was not >= {reduced_margin:.0%} faster than {base} in most rounds "
                f"({figures})"
            )
    return winner, reason, lost, won
