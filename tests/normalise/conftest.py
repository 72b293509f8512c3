"""Hypothesis writes nothing into the repository: database=None in fuzz_helpers, and its caches (the
unicode character map, constants collected from our source files) go to a directory under the system
temp dir, set here at import, before any test module of this folder is collected. Keeping it between
runs saves seconds (the character map takes ~3 s to build) and changes no example: derandomize=True.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "warnengine-hypothesis")
