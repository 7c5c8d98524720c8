"""The names of the attribution methods, in a module without torch: the CLI's parser
lists them before anything heavy is imported."""

METHODS = ("saliency", "smoothgrad", "integrated_gradients", "gradcam", "occlusion")
