"""Looking inside a trained network: attributions (saliency, Grad-CAM, occlusion ...) and
views (filters, feature maps, embeddings, attention, gates) for a run folder or a bundle.

    from builder.inspecting import open_subject
    subject = open_subject("runs/lenet5-20261203-145503")
    samples = subject.samples("val:misclassified")

Never imports Qt; torch, matplotlib and (for attributions) Captum are imported here.
"""

from __future__ import annotations

from builder.lazy import lazy_exports

_EXPORTS = {
    "InspectError": "builder.inspecting.errors",
    "Subject": "builder.inspecting.subject", "Samples": "builder.inspecting.subject",
    "open_subject": "builder.inspecting.subject", "from_trained": "builder.inspecting.subject",
    "METHODS": "builder.inspecting.explain", "explain": "builder.inspecting.explain",
    "Explanation": "builder.inspecting.explain", "draw_explanation": "builder.inspecting.explain",
    "write_explanation": "builder.inspecting.explain", "default_gradcam_node": "builder.inspecting.explain",
    "VIEWS": "builder.inspecting.views", "applicable": "builder.inspecting.views",
    "inspect": "builder.inspecting.views", "run_view": "builder.inspecting.views",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("builder.inspecting", globals(), _EXPORTS)
