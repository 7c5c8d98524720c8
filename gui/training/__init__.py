"""The desktop app's training view: the trainer in a child process and its live plots.

``runner.TrainingRunner`` runs ``modelbuilder train --json-events`` with QProcess and turns
its stdout into event dicts (docs/events.md); ``live_plots.LivePlots`` draws them with the
engine's own ``builder.draw_*`` figures, throttled so that the window stays responsive.
"""
