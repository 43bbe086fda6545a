"""Time series: uPlot charts of readings, re-fetched downsampled when zoomed or panned."""
