"""Warnings a person issues: the console's releases and `warnengine broadcast` to the loudspeakers."""
