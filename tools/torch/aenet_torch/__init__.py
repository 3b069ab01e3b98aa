"""aenet models in PyTorch: the graph as a module, model files in and out,
training on GPUs and clusters (see docs/pytorch.md)."""
from .model import (AenetModel, AenetNet, GraphError, load, new_from_arch, preset_graph,
                    run_image, save)

__all__ = ["AenetModel", "AenetNet", "GraphError", "load", "new_from_arch", "preset_graph",
           "run_image", "save"]
