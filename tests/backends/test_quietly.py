"""backends.cpu.quietly: NumPy code without its floating-point warnings, the caller's state untouched."""
import threading
import warnings

import numpy as np
import pytest

from hakl.backends.cpu import quietly


def _divide(a, b):
    return a / b


def test_a_quiet_function_warns_of_nothing_and_the_caller_still_does():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = quietly(_divide)(np.ones(2, np.float32), np.zeros(2, np.float32))
        assert np.isinf(out).all()
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            _divide(np.ones(2), np.zeros(2))


def test_a_callers_raise_state_does_not_reach_inside_and_survives_the_call():
    with np.errstate(all="raise"):
        assert np.isnan(quietly(lambda a: a - a)(np.array([np.inf])))[0]
        with pytest.raises(FloatingPointError):
            np.array([np.inf]) - np.array([np.inf])


def test_quiet_functions_nest_and_keywords_pass_through():
    inner = quietly(lambda a, scale=1.0: a * scale / 0.0)
    outer = quietly(lambda a: inner(a, scale=np.float32(3e38)) + np.float32(3e38) * np.float32(10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(outer(np.ones(3, np.float32))).all()
    assert outer.__wrapped__ is not None  # functools.update_wrapper: the function's name and doc


def test_threads_run_one_quiet_function_at_once():
    quiet, errors = quietly(_divide), []

    def work():
        try:
            for _ in range(2000):
                quiet(np.ones(4), np.zeros(4))
        except Exception as error:  # a Context entered by two threads raises RuntimeError
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    with warnings.catch_warnings():  # (the filters are global: set here, not in the threads)
        warnings.simplefilter("error")
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_an_exception_inside_leaves_the_context_usable():
    fail = quietly(lambda: 1 // 0)
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            fail()
    assert np.isinf(quietly(_divide)(np.ones(1), np.zeros(1)))[0]
