"""Hostile inputs (issue 17): every case of the generated corpus gives its project error with a clear message
through ``io.load``, ``sarco info`` and ``sarco analyze``; a seeded mutation fuzz of ``io.load`` finds no
Python built-in exception, no hang, and no accepted image with non-finite or out-of-range values."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from sarco_core.cli import main
from sarco_core.errors import SarcoError
from sarco_core.io.limits import HU_RANGE
from sarco_core.io.loader import load_unguarded
from tests.fuzz_inputs import mutants
from tests.hostile_inputs import Hostile, corpus

CORPUS = corpus()
PER_INPUT_S = 10  # a hang, not a speed target: the slowest corpus input loads in well under 1 s


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(_sig: int, _frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_corpus_is_large_and_covers_every_kind():
    assert len(CORPUS) >= 60
    kinds = {c.name.split("_")[0] for c in CORPUS}
    assert {"zip", "nifti", "dicom", "series"} <= kinds


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_hostile_input_gives_its_project_error(case: Hostile, tmp_path: Path, monkeypatch, capsys) -> None:
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    path = case.make(tmp_path)
    with time_limit(PER_INPUT_S):
        with pytest.raises(case.error) as info:
            load_unguarded(path, require_axial=False)
    assert re.search(case.phrase, str(info.value)), str(info.value)
    for argv in (["info", str(path)], ["analyze", str(path), "--method", "threshold", "--json"]):
        with time_limit(PER_INPUT_S):
            code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert "internal error" not in err and "Traceback" not in err
        assert re.search(case.phrase, err), err


def _check_accepted(vol: object) -> None:
    hu = np.asarray(vol.hu)  # type: ignore[attr-defined]
    assert hu.dtype.kind in "iuf"
    assert np.isfinite(hu).all()
    if vol.is_hu:  # type: ignore[attr-defined]
        assert HU_RANGE[0] <= float(hu.min()) and float(hu.max()) <= HU_RANGE[1]
    sp = vol.spacing_mm  # type: ignore[attr-defined]
    for v in (sp.row, sp.col) + ((sp.slice,) if vol.n_slices > 1 else ()):  # type: ignore[attr-defined]
        assert v is not None and np.isfinite(v) and v > 0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_seeded_fuzz_of_load_raises_only_project_errors() -> None:
    """1000 mutated DICOM/NIfTI/zip inputs (seed 17): a built-in exception or a hang fails the test."""
    escapes: list[str] = []
    outcomes = {"accepted": 0, "refused": 0}
    for i, (kind, src) in enumerate(mutants(1000, seed=17)):
        try:
            with time_limit(PER_INPUT_S):
                vol = load_unguarded(src, require_axial=False)  # type: ignore[arg-type]
        except SarcoError:
            outcomes["refused"] += 1
            continue
        except Hang:
            escapes.append(f"#{i} {kind}: hang")
            continue
        except Exception as exc:
            escapes.append(f"#{i} {kind}: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        outcomes["accepted"] += 1
        _check_accepted(vol)
    assert not escapes, "\n".join(escapes[:20])
    assert outcomes["accepted"] > 50 and outcomes["refused"] > 200  # the fuzz exercises both paths


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzz_benchmark_script_reports_its_figures(capsys) -> None:
    from benchmarks.fuzz_io import fuzz

    fuzz(60, seed=5)
    out = capsys.readouterr().out
    assert "fuzz: 60 inputs (seed 5)" in out and "non-project exceptions 0" in out and "hangs (> 30 s) 0" in out
