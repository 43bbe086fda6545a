"""Models: digital-twin models, their scenarios and measures, and a run's plot with its
uncertainty bands over the observed readings."""
