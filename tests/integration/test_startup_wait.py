"""Start-up waits for a backend that does not answer yet (a busy machine, a server still
starting) for ``INESCAPE_STARTUP_WAIT_S``, then stops with one message naming the setting."""

from __future__ import annotations

import threading
import time

import pytest

from inescape.kernel.errors import ConfigurationError
from inescape.runtime import Runtime
from inescape.settings import load_settings
from tests.support.throwaway import Throwaway

pytestmark = pytest.mark.slow


def settings_with_redis(tmp_path, url: str, wait_s: float):
    return load_settings(
        {
            "INESCAPE_DATA_DIR": str(tmp_path / "data"),
            "INESCAPE_REDIS_URL": url,
            "INESCAPE_STARTUP_WAIT_S": str(wait_s),
        }
    )


async def test_a_backend_that_answers_a_few_seconds_late_is_waited_for(tmp_path):
    redis = Throwaway("redis", tmp_path / "redis")
    late = threading.Timer(2.5, redis.start)
    runtime = Runtime(settings_with_redis(tmp_path, redis.url, wait_s=30), specs=[])
    late.start()
    started = time.monotonic()
    try:
        await runtime.start(worker=False)
        waited = time.monotonic() - started
        health = {h.name: h.status for h in await runtime.backend_health()}
        await runtime.stop()
    finally:
        late.join()
        redis.stop()

    assert waited >= 2.5
    assert health["cache"] == health["queue"] == "ok"


async def test_a_backend_still_down_when_the_wait_is_over_stops_start_up_naming_the_setting(tmp_path):
    redis = Throwaway("redis", tmp_path / "redis")  # never started: its port refuses
    runtime = Runtime(settings_with_redis(tmp_path, redis.url, wait_s=1.5), specs=[])
    started = time.monotonic()

    with pytest.raises(ConfigurationError) as refused:
        await runtime.start(worker=False)
    waited = time.monotonic() - started
    await runtime.stop()

    assert 1.5 <= waited < 15
    assert refused.value.setting == "INESCAPE_REDIS_URL"
    assert "cannot reach the cache backend (redis)" in str(refused.value)
    assert "(probed for 1.5s; INESCAPE_STARTUP_WAIT_S waits longer)" in str(refused.value)


def test_a_negative_wait_is_a_configuration_error():
    with pytest.raises(ConfigurationError) as refused:
        load_settings({"INESCAPE_STARTUP_WAIT_S": "-1"})

    assert refused.value.setting == "INESCAPE_STARTUP_WAIT_S"
