"""Model Builder's engine: graph files, validation and shape inference, the compiler.

    from builder import load_graph, compile_graph
    model = compile_graph(load_graph("graphs/resnet18.yaml"))

Names are imported on first use, so that ``import builder`` (and ``modelbuilder --help``)
stays fast and does not import torch until it is needed. Never imports Qt.
"""

from __future__ import annotations

from builder.lazy import lazy_exports

_EXPORTS = {
    "Graph": "builder.graph", "Node": "builder.graph", "Ref": "builder.graph", "FORMAT_VERSION": "builder.graph",
    "id_problem": "builder.graph", "assign_to_ports": "builder.graph",
    "Problem": "builder.errors", "GraphError": "builder.errors",
    "load_graph": "builder.yaml_format", "parse_graph": "builder.yaml_format",
    "save_graph": "builder.yaml_format", "dump_graph": "builder.yaml_format",
    "LAYOUT_DIRECTION_KEY": "builder.yaml_format", "LAYOUT_DIRECTIONS": "builder.yaml_format",
    "composite_file": "builder.composite", "CompositeProblem": "builder.analysis",
    "analyze": "builder.analysis", "Analysis": "builder.analysis", "NodeInfo": "builder.analysis",
    # the rules a wire follows, shared by the analysis and the editor (builder/connection_rules.py)
    "dtype_problem": "builder.connection_rules", "dtypes_fit": "builder.connection_rules",
    "output_dtype": "builder.connection_rules", "output_problem": "builder.connection_rules",
    "input_port_problem": "builder.connection_rules",
    "compile_graph": "builder.compiler", "resolve_device": "builder.compiler",
    "write_atomic": "builder.atomic",
    "export": "builder.exporting.api", "ExportResult": "builder.exporting.api",
    "ExportError": "builder.exporting.errors", "load_bundle": "builder.exporting.bundle",
    "open_trained": "builder.exporting.source",
    # training, for front-ends (the desktop app): settings schema, data sources, event plots
    "TRAINING_SETTINGS": "builder.training.settings", "resolve_settings": "builder.training.settings",
    "SettingsError": "builder.training.settings", "DATA_SOURCES": "builder.data.pipeline",
    "read_events": "builder.training.events",
    "draw_loss": "builder.training.plots", "draw_accuracy": "builder.training.plots",
    "draw_gradient_bars": "builder.training.plots", "draw_gradient_heatmap": "builder.training.plots",
    "draw_timestep_gradients": "builder.training.plots",
    # how those figures look, for the app's own figures (builder/training/plot_style.py)
    "style_axes": "builder.training.plot_style", "figure_note": "builder.training.plot_style",
    "finite_number": "builder.training.plot_style", "spans_decades": "builder.training.plot_style",
    "PLOT_LABEL_SIZE": "builder.training.plot_style:LABEL", "PLOT_SMALL_SIZE": "builder.training.plot_style:SMALL",
    # looking inside a trained model (docs/explain.md, docs/inspect.md)
    "open_subject": "builder.inspecting.subject", "subject_of": "builder.inspecting.subject:from_trained",
    "InspectError": "builder.inspecting.errors", "Subject": "builder.inspecting.subject",
    "picture_of": "builder.inspecting.figures:as_picture",
    "explain": "builder.inspecting.explain", "Explanation": "builder.inspecting.explain",
    "EXPLAIN_METHODS": "builder.inspecting.explain:METHODS", "draw_explanation": "builder.inspecting.explain",
    "write_explanation": "builder.inspecting.explain", "default_gradcam_node": "builder.inspecting.explain",
    "inspect": "builder.inspecting.views", "VIEWS": "builder.inspecting.views",
    "applicable_views": "builder.inspecting.views:applicable",
    # generating sequences with decoder graphs (docs/sequences.md)
    "open_generator": "builder.generation.api", "Generation": "builder.generation.api",
    "GenerationError": "builder.generation.errors", "GENERATION_METHODS": "builder.generation.api:METHODS",
    "decoder_contract": "builder.generation.contract",
    # the data flow as a networkx DiGraph (docs/format.md)
    "to_networkx": "builder.networkx_view", "data_flow": "builder.flow", "flow_from_sources": "builder.flow",
    "flow_path": "builder.flow:path_between", "upstream_nodes": "builder.flow:upstream",
    "flow_layers": "builder.flow:layers",
    # repeated structure folded into composite blocks (docs/format.md)
    "find_repeats": "builder.repeats", "Repeat": "builder.repeats", "fold": "builder.folding",
    "fold_all": "builder.folding", "FoldResult": "builder.folding", "check_fold": "builder.folding",
    "FOLD_TOLERANCE": "builder.folding:TOLERANCE",
    # repeated nodes (repeat: N, vary): each repetition's values, shapes and cost (docs/format.md)
    "repetitions": "builder.repeat_expand", "MAX_REPEAT": "builder.repeat_expand",
    # existing PyTorch models and ONNX files as graphs (docs/import.md)
    "import_model": "builder.importing", "ImportFailure": "builder.importing", "ImportResult": "builder.importing",
    # for the app's training form, inspector and panel: which data sources fit a graph, what the
    # freeze setting freezes, the estimate event in words, figures of dense and multi-output runs
    "graph_sources": "builder.data.fitting", "SourceFit": "builder.data.fitting:Fit",
    "frozen_nodes": "builder.training.freezing:select_nodes", "freeze_toggled": "builder.training.freezing:toggled",
    "parameter_split": "builder.training.freezing", "renamed_in_training": "builder.training.node_renames", "estimate_line": "builder.training.estimate",
    "draw_iou": "builder.training.task_plots", "draw_outputs": "builder.training.task_plots",
    "run_task": "builder.training.task_plots", "init_plan": "builder.training.weight_init:plan_for_graph",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("builder", globals(), _EXPORTS)
