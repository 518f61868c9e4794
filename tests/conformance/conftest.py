"""Conformance fixtures: a count of emulator answers validated against the official OpenAPI spec,
reported in the terminal summary.
"""

from __future__ import annotations

import pytest

VALIDATED = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[VALIDATED] = []


@pytest.fixture
def validated_log(request: pytest.FixtureRequest) -> list[str]:
    """Append one entry per emulator answer validated against the spec."""
    return request.config.stash[VALIDATED]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    answers = config.stash.get(VALIDATED, [])
    if answers:
        terminalreporter.write_line(
            f"{len(answers)} emulator answers validated against the OpenAPI spec "
            f"({len(set(answers))} distinct method x path x status)"
        )
