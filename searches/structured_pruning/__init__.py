"""Structured pruning as a search: keep a trained architecture, search which widths and layers to retain.

Plain Python + torch, no Django. The candidates of a pruning search are architectures of the
trained model's own space (every width at most the trained one, every depth at most the trained
depth), so a pruned model is an ordinary model of that space: it builds, trains, costs and
exports as any trial does. Entry points:

    PrunedSpace(space, arch)                     the sub-architectures, a SearchSpace our strategies run on
    prune_model(model, space, arch, pruned_arch, input_shape, num_classes)
                                                 keep the most important units by L1 norm, copy their weights
    run_pruning_search(...)                      ask a strategy (evolution, BO...) for widths under a budget,
                                                 prune, fine-tune, record each candidate
    learn_gates(...)                             the differentiable variant: learned unit gates (DSA-like)

Spaces: chain_mlp (widths, depth; transplant.py), macro_cnn (channels per stage, blocks, stages;
cnn.py) and transformer (MLP widths, layers; heads are kept: transformer.py). Others get a
SpecError. The learned gates are for chain_mlp only. A stored pruning search's space is a
PrunedSpace whose spec names its parent trial (space.py: PRUNED_FROM, build_stored_space).
"""

from .gates import learn_gates
from .search import BUDGET_METRICS, PruningCandidate, run_pruning_search
from .space import PRUNABLE_KINDS, PrunedSpace
from .transplant import prune_model

__all__ = ["BUDGET_METRICS", "PRUNABLE_KINDS", "PruningCandidate", "PrunedSpace", "learn_gates", "prune_model",
           "run_pruning_search"]
