"""Hypothesis writes nothing into the repository: database=None in fuzz_helpers, and its other cache
(constants collected from our source files, filled as soon as test modules are collected) goes to a
temporary directory set here, at import, before any test module of this folder is imported."""

from __future__ import annotations

import tempfile

from hypothesis.configuration import set_hypothesis_home_dir

_HOME = tempfile.TemporaryDirectory(prefix="warnengine-hypothesis-")  # removed when the run exits
set_hypothesis_home_dir(_HOME.name)
