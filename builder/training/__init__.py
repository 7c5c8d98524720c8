"""Training: settings, the engine, its event stream, checkpoints, run folders, diagnostics
and plots. Headless: never imports Qt (plots use matplotlib's Agg canvas)."""
