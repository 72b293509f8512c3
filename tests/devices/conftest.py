from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.speaker.broker import mosquitto


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with mosquitto(tmp_path_factory.mktemp("mosquitto-devices")) as port:
        yield port
