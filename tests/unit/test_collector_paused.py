"""bihuan.runtime.collector_paused: the garbage collector pauses for a scoring batch and resumes
when the last paused block (of any thread) ends, only if it was on before."""

from __future__ import annotations

import gc
import threading

from bihuan.runtime import collector_paused


def test_nested_and_threaded_pauses_resume_once_at_the_end() -> None:
    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    with collector_paused():
        assert not gc.isenabled()
        worker = threading.Thread(target=other)
        worker.start()
        assert inside.wait(5)
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's batch is still running
    release.set()
    worker.join(5)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_still_resumes() -> None:
    try:
        with collector_paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.isenabled()
