"""warnengine: get every hazard warning to every village, household and person, and know it arrived."""

__version__ = "0.1.0"
