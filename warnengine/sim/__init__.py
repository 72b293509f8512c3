"""`warnengine simulate`: the pipeline's stages against a simulated county, in stepped engine time."""
