from __future__ import annotations

import pytest
from platform_fixtures import make_world

from populace.worlds.social import SocialWorld


@pytest.fixture
def world() -> SocialWorld:
    return make_world()
