"""Quality gates of the int8 conversions and the latency figure they report."""
import time

GATE_EMOTION_ACC_POINTS = 1.0
GATE_AGE_MAE_YEARS = 0.3


class GateFailure(SystemExit):
    pass


def bench_ms(fn, x, n=200):
    """Mean milliseconds per row of fn over the first n rows of x (after a warm-up)."""
    fn(x[:5])
    t = time.perf_counter()
    fn(x[:n])
    return (time.perf_counter() - t) / n * 1000
