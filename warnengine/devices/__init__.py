"""Engine-side terminal health: reports in, offline terminals detected and reported."""
