from __future__ import annotations

import pytest

from warnengine.directory import County, generate_county


@pytest.fixture(scope="session")
def county() -> County:
    """The default county (the committed sample's arguments); ~1 s to generate."""
    return generate_county()


@pytest.fixture(scope="session")
def small_county() -> County:
    return generate_county(
        seed=7,
        townships=3,
        villages=16,
        groups_per_village=(2, 4),
        households_per_group=(3, 6),
        orgs_per_township=0,
    )
