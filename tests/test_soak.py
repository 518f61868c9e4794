"""A crawl under injected faults ends with exactly the emulator's ids, or a typed error."""

from __future__ import annotations

import time

import pytest

import do_images
from do_images.testing import Emulator, Fault

from .conftest import FakeTime

PAGES, PER_PAGE = 120, 50


def _faults(emulator: Emulator) -> None:
    """About 12% of requests misbehave: 5xx, 429, dropped connections, slow answers."""
    for fault in (
        Fault(kind="status", status=503, probability=0.04, times=None),
        Fault(kind="status", status=500, probability=0.01, times=None),
        Fault(
            kind="status", status=429, probability=0.03, times=None, headers={"retry-after": "1"}
        ),
        Fault(kind="drop", probability=0.03, times=None),
        Fault(kind="latency", delay=0.02, probability=0.03, times=None),
    ):
        emulator.inject(fault)


async def test_soak_crawl_survives_faults_with_no_duplicate_or_loss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeTime(start=time.time())
    async with Emulator(seed=False, rate_limits=(), random_seed=7) as emulator:
        expected = [image["id"] for image in emulator.add_images(PAGES * PER_PAGE)]
        _faults(emulator)
        async with do_images.Client(
            "t", base_url=emulator.url, rate_limits=(), sleep=fake.sleep, clock=fake.clock
        ) as client:
            ids = [i.id async for i in client.images.list(per_page=PER_PAGE, concurrency=8)]
        served = emulator.faults_served
        attempts = served + len([r for r in emulator.requests if r.fault is None])
    assert ids == expected
    assert len(set(ids)) == len(ids) == PAGES * PER_PAGE
    assert served >= 0.10 * PAGES, f"only {served} faults were injected"
    with capsys.disabled():
        print(f"\nsoak: {PAGES} pages, {attempts} requests, {served} faults survived")


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(kind="status", status=503, times=None), do_images.ServerError),
        (Fault(kind="drop", times=None), do_images.APIConnectionError),
        (
            Fault(kind="status", status=429, times=None, headers={"retry-after": "5"}),
            do_images.RateLimitError,
        ),
    ],
)
async def test_permanent_faults_fail_typed_within_the_deadline(
    fault: Fault, error: type[Exception]
) -> None:
    fake = FakeTime(start=time.time())
    async with Emulator(seed=False, rate_limits=()) as emulator:
        emulator.add_images(500)
        emulator.inject(fault)
        async with do_images.Client(
            "t",
            base_url=emulator.url,
            rate_limits=(),
            max_retries=100,
            sleep=fake.sleep,
            clock=fake.clock,
        ) as client:
            start = fake.now
            with client.deadline(30), pytest.raises(error):
                [image async for image in client.images.list(per_page=50, concurrency=4)]
    assert fake.now - start <= 30
