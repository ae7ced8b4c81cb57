"""LoginKey: the vectors of glance-api.md section 6, verification, and renewal before expiry."""

from __future__ import annotations

import threading

import pytest

from bulk_provision.glance.loginkey import (
    LoginKeySource,
    key_expiration,
    login_key,
    verify_login_key,
)

VECTORS = [
    (98765, "UserId", "RedactedApiKey", 1392680360,
     "$1$1392680360$wfuY5eEn_3YTrFNgYarCilwUSArUbfZOFlahHiylqnY"),
    (98765, "UserId", "RedactedApiKey", 1700007200,
     "$1$1700007200$KxyQ40wqXe23S7u87rStS0qLVkmwlZLrsyWL5nY4s8M"),
    (12345, "agent001234", "0123456789abcdefghij", 1700000000,
     "$1$1700000000$Igu_zMirWkhKvaU5Mys-njARqljPCaeGtt0OmCVIyF8"),
]  # fmt: skip


@pytest.mark.parametrize(("pid", "puid", "api_key", "exp", "expected"), VECTORS)
def test_vectors(pid: int, puid: str, api_key: str, exp: int, expected: str) -> None:
    key = login_key(pid, puid, api_key, exp=exp)
    assert key == expected
    assert len(key) == 57
    assert login_key(str(pid), puid, api_key, exp=exp) == expected


@pytest.mark.parametrize(("pid", "puid", "api_key", "exp", "expected"), VECTORS)
def test_vectors_verify(pid: int, puid: str, api_key: str, exp: int, expected: str) -> None:
    assert verify_login_key(expected, pid, puid, api_key, now=exp - 3600)


def test_ttl_is_relative_to_now() -> None:
    import time

    before = round(time.time())
    key = login_key(1, "u", "k", ttl=7200)
    exp = key_expiration(key)
    assert exp is not None and before + 7200 <= exp <= round(time.time()) + 7200


def test_ttl_or_exp_required() -> None:
    with pytest.raises(ValueError):
        login_key(1, "u", "k")
    with pytest.raises(ValueError):
        login_key(1, "u", "k", ttl=1, exp=2)


def test_verify_refuses_expired_far_future_tampered_and_wrong_inputs() -> None:
    key = login_key(98765, "UserId", "RedactedApiKey", exp=1_700_000_000)
    now = 1_700_000_000 - 100
    assert verify_login_key(key, 98765, "UserId", "RedactedApiKey", now=now)
    # expired: valid only while now < exp
    assert not verify_login_key(key, 98765, "UserId", "RedactedApiKey", now=1_700_000_000)
    # more than a day (+ skew) ahead
    assert not verify_login_key(
        key, 98765, "UserId", "RedactedApiKey", now=1_700_000_000 - 86400 - 301
    )
    assert verify_login_key(key, 98765, "UserId", "RedactedApiKey", now=1_700_000_000 - 86400)
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert not verify_login_key(tampered, 98765, "UserId", "RedactedApiKey", now=now)
    moved_exp = key.replace("1700000000", "1700000001")
    assert not verify_login_key(moved_exp, 98765, "UserId", "RedactedApiKey", now=now)
    assert not verify_login_key(key, 98765, "UserId", "OtherKey", now=now)
    assert not verify_login_key(key, 98766, "UserId", "RedactedApiKey", now=now)
    assert not verify_login_key(key, 98765, "userid", "RedactedApiKey", now=now)
    for junk in ["", "$", "$1$$", "$2$1700000000$x", "1$1700000000$x", "$1$abc$x", "$1$1$2$3"]:
        assert not verify_login_key(junk, 98765, "UserId", "RedactedApiKey", now=now)


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_source_reuses_then_renews_before_expiry() -> None:
    clock = FakeClock(1_700_000_000.0)
    source = LoginKeySource(98765, "UserId", "RedactedApiKey", ttl=3600, clock=clock)
    first = source.current()
    assert key_expiration(first) == 1_700_003_600
    assert verify_login_key(first, 98765, "UserId", "RedactedApiKey", now=clock.t)
    clock.t += 3600 - 301  # 301 s left: still good
    assert source.current() == first
    clock.t += 2  # 299 s left: renewed
    second = source.current()
    assert second != first
    assert verify_login_key(second, 98765, "UserId", "RedactedApiKey", now=clock.t + 3000)


def test_source_is_thread_safe_and_repr_hides_secrets() -> None:
    source = LoginKeySource(5, "admin", "sekrit-api-key")
    keys: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            k = source.current()
            with lock:
                keys.append(k)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1
    assert "sekrit" not in repr(source) and keys[0] not in repr(source)


def test_source_rejects_margin_not_below_ttl() -> None:
    with pytest.raises(ValueError):
        LoginKeySource(1, "u", "k", ttl=300, renew_margin=300)
