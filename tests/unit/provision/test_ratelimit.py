import threading

from bulk_provision.provision.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_slots_are_spaced_at_the_rate_after_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, burst=2, clock=clock)
    delays = [limiter.reserve() for _ in range(5)]
    assert [round(d, 6) for d in delays] == [0.0, 0.0, 0.1, 0.2, 0.3]


def test_tokens_refill_with_time_but_never_beyond_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(5, burst=1, clock=clock)
    assert limiter.reserve() == 0.0
    clock.now += 10  # a long idle spell refills one token only
    assert limiter.reserve() == 0.0
    assert round(limiter.reserve(), 6) == 0.2


def test_zero_rate_is_unlimited() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.reserve() == 0.0 for _ in range(1000))


def test_acquire_returns_false_when_stopped_while_waiting() -> None:
    limiter = RateLimiter(0.001, burst=1)
    stop = threading.Event()
    assert limiter.acquire(stop) is True  # the burst token
    stop.set()
    assert limiter.acquire(stop) is False  # would wait ~1000 s; the stop wins at once


def test_many_threads_never_exceed_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, burst=1, clock=clock)
    delays: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(50):
            d = limiter.reserve()
            with lock:
                delays.append(d)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 400 slots at 100/s from one token: the last one is 3.99 s out, and all are distinct
    assert round(max(delays), 6) == 3.99
    assert len({round(d, 6) for d in delays}) == 400
