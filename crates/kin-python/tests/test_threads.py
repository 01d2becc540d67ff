"""The GIL, Ctrl-C and fork: kin computes without the GIL, stops between batches on SIGINT, and
works in children forked after it has computed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import kin


def test_encode_releases_the_gil(minilm, golden_texts):
    texts = golden_texts * 2
    done = threading.Event()

    def work() -> None:
        minilm.encode(texts, batch_size=len(texts))  # one batch: the GIL is never given up between batches
        done.set()

    worker = threading.Thread(target=work)
    spins = 0
    worker.start()
    while not done.is_set():
        spins += 1
    worker.join()
    # Holding the GIL for the whole call would leave this thread a handful of turns at most.
    assert spins > 100_000, spins


def test_ctrl_c_interrupts_a_long_encode(tmp_path):
    script = textwrap.dedent(
        """
        import faulthandler, signal, sys, time, kin
        # Python leaves SIGINT ignored when it started ignored (a suite run in the background):
        # take it as a terminal's Python does.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        model = kin.SentenceTransformer("all-MiniLM-L6-v2")
        print("ready", flush=True)
        faulthandler.dump_traceback_later(45)  # where it is, should SIGINT go unanswered
        start = time.monotonic()
        try:
            model.encode(["a sentence long enough to take a moment " * 8] * 100_000, batch_size=8)
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - start:.1f}s", flush=True)
            sys.exit(0)
        print("finished", flush=True)
        sys.exit(1)
        """
    )
    errors = tmp_path / "stderr.txt"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"no answer to SIGINT in 60 s; the child's stderr:\n{errors.read_text()}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + errors.read_text()
    assert out.startswith("interrupted"), out


def _encode_in_child(texts):
    model = _child_model
    return os.getpid(), model.encode(texts)


_child_model = None


def test_forked_children_compute(minilm, golden_texts):
    global _child_model
    texts = golden_texts[:16]
    expected = minilm.encode(texts)  # the parent's pool is running before the fork
    _child_model = minilm
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        results = pool.map_async(_encode_in_child, [texts, texts[::-1]]).get(timeout=120)
    pids = {pid for pid, _ in results}
    assert os.getpid() not in pids
    np.testing.assert_allclose(results[0][1], expected, atol=2e-6)
    np.testing.assert_allclose(results[1][1], expected[::-1], atol=2e-6)
    assert kin.threads() >= 1
