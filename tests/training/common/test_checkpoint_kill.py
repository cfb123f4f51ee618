"""kill -9 at random moments during checkpoint saves: every checkpoint loads or is refused
with one line, and what loads is one save's weights with that save's spec and state."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal

import pytest

from ptx.errors import PtxError
from ptx.training.common import checkpoint as ck
from ptx.training.common import registry

torch = pytest.importorskip("torch")
KILLS = 20


def _saver(out: str) -> None:
    """Save checkpoints forever, each one's weights, spec and state from one seed."""
    fam = registry.get("enhance")
    cfg = fam.config(**fam.test_config)
    step = 0
    while True:
        step += 1
        torch.manual_seed(step)
        model = fam.build(cfg)
        spec = fam.make_spec(cfg)
        spec.metrics = {"seed": float(step)}
        ck.save_checkpoint(out, model, spec, {"step": step})


@pytest.mark.slow
def test_kill_9_during_saves_never_pairs_files_of_two_saves(tmp_path):
    fam = registry.get("enhance")
    rng = random.Random(0)
    ctx = multiprocessing.get_context("fork")
    out = tmp_path / "ckpt"
    outcomes = {"loaded": 0, "refused": 0, "absent": 0}
    for _ in range(KILLS):
        child = ctx.Process(target=_saver, args=(str(out),))
        child.start()
        child.join(rng.uniform(0.05, 1.5))  # a random moment, mid-save or between saves
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        if not (out / ck.SPEC).is_file() and not (out / getattr(ck, "STAGE", ".saving")).exists():
            outcomes["absent"] += 1
            continue
        try:
            model, spec = ck.load_checkpoint(out, family="enhance")
            state = ck.load_state(out)
        except PtxError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
            continue
        seed = int(spec.metrics["seed"])
        assert state["step"] == seed  # the state is this save's
        torch.manual_seed(seed)
        want = fam.build(fam.config(**fam.test_config)).state_dict()
        for k, v in model.state_dict().items():
            assert torch.equal(v, want[k]), k  # the weights are this save's
        outcomes["loaded"] += 1
    assert outcomes["loaded"] >= 1, outcomes
