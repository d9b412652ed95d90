"""The production settings, with static files collected into the e2e run's own folder.

Used only by the browser tests' server (tests/e2e/conftest.py), so that `collectstatic` never
writes into the project's `staticfiles/` while another run serves from it.
"""

import os
from pathlib import Path

from main.settings import *  # noqa: F403

STATIC_ROOT = Path(os.environ["E2E_STATIC_ROOT"])
