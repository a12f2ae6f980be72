"""Transformer (AutoFormer-style): self-attention layers with a searchable depth,
one embedding width shared by every layer, and per-layer heads and MLP ratio.

One space serves three kinds of input, chosen from input_shape and vocab_size:
token ids (L,) with vocab_size > 0 (token + learned position embedding), tabular
features (F,) with vocab_size 0 (one token per feature, as in FT-Transformer),
and images (C, H, W) (non-overlapping patches, ViT). Classification mean-pools
the tokens; language modelling uses a causal mask and predicts the next token
at every position.

Every head choice divides every embedding choice (validate_spec checks it), so
any combination of decisions is a valid model.
"""

from __future__ import annotations

from ..checks import SpecError
from .base import Decision, SearchSpace, SpecField
from .spec_checks import check_divides, check_int, check_number_list, check_order, check_task

MAX_DEPTH = 12


def mlp_hidden_units(dim: int, ratio: float) -> int:
    return max(1, round(dim * ratio))


def transformer_layer_params(dim: int, mlp_hidden: int) -> int:
    """Parameters of one layers.TransformerLayer, counted without torch."""
    attention = 4 * dim * dim + 4 * dim  # q, k, v and output projections with biases
    norms = 2 * 2 * dim
    mlp = 2 * dim * mlp_hidden + mlp_hidden + dim
    return attention + norms + mlp


class TransformerSpace(SearchSpace):
    kind = "transformer"
    label = "Transformer (AutoFormer-style)"
    tasks = ("classification", "language_modelling")

    @classmethod
    def default_spec(cls) -> dict:
        return {
            "min_depth": 1,
            "max_depth": 3,
            "embed_dims": [16, 32],
            "heads": [1, 2, 4],
            "mlp_ratios": [1.0, 2.0],
            "patch_size": 4,
        }

    @classmethod
    def spec_fields(cls) -> list[SpecField]:
        return [
            SpecField("min_depth", "int", "Minimum depth", f"attention layers, 1-{MAX_DEPTH}"),
            SpecField("max_depth", "int", "Maximum depth", f"attention layers, 1-{MAX_DEPTH}"),
            SpecField("embed_dims", "int_list", "Embedding widths",
                      "shared by all layers, e.g. 16, 32; each must be divisible by every head count"),
            SpecField("heads", "int_list", "Attention heads", "per layer, e.g. 1, 2, 4"),
            SpecField("mlp_ratios", "float_list", "MLP ratios", "hidden width / embedding width, 0.25-8"),
            SpecField("patch_size", "int", "Patch size",
                      "for images, 1-64; clipped to the image size, the last patches zero-padded"),
        ]

    def validate_spec(self, spec: dict) -> dict:
        out = {
            "min_depth": check_int(spec, "min_depth", 1, MAX_DEPTH),
            "max_depth": check_int(spec, "max_depth", 1, MAX_DEPTH),
            "embed_dims": check_number_list(spec, "embed_dims", 1, 2048, integer=True),
            "heads": check_number_list(spec, "heads", 1, 64, integer=True),
            "mlp_ratios": [float(r) for r in check_number_list(spec, "mlp_ratios", 0.25, 8.0, integer=False)],
            "patch_size": check_int(spec, "patch_size", 1, 64),
        }
        check_order(out, "min_depth", "max_depth")
        check_divides(out, "heads", "embed_dims")
        return out

    def build_decisions(self) -> list[Decision]:
        s = self.spec
        decisions = [
            Decision("depth", tuple(range(s["min_depth"], s["max_depth"] + 1))),
            Decision("embed_dim", tuple(s["embed_dims"])),
        ]
        for i in range(1, s["max_depth"] + 1):
            decisions += [Decision(f"heads_{i}", tuple(s["heads"])), Decision(f"mlp_ratio_{i}", tuple(s["mlp_ratios"]))]
        return decisions

    def active_decisions(self, choices: dict) -> list[str]:
        names = ["depth", "embed_dim"]
        for i in range(1, choices["depth"] + 1):
            names += [f"heads_{i}", f"mlp_ratio_{i}"]
        return names

    def size(self) -> int:
        s = self.spec
        per_layer = len(s["heads"]) * len(s["mlp_ratios"])
        depths = sum(per_layer**d for d in range(s["min_depth"], s["max_depth"] + 1))
        return len(s["embed_dims"]) * depths

    def to_torch(self, arch: dict, input_shape: tuple, num_classes: int,
                 task: str = "classification", vocab_size: int = 0):
        from torch import nn

        from . import layers as L  # heavy: layers imports torch; the space package imports without it

        self.validate_arch(arch)
        check_task(task, self.tasks)
        dim = arch["embed_dim"]
        embedding = self._embedding(tuple(input_shape), dim, task, vocab_size)
        layers = [L.TransformerLayer(dim, arch[f"heads_{i}"], mlp_hidden_units(dim, arch[f"mlp_ratio_{i}"]))
                  for i in range(1, arch["depth"] + 1)]
        causal = task == "language_modelling"
        head = nn.Linear(dim, vocab_size if causal else num_classes)
        stack = L.TokenStack(layers, dim, head, causal=causal, max_length=input_shape[0] if causal else 0)
        return nn.Sequential(embedding, stack)

    def _embedding(self, input_shape: tuple, dim: int, task: str, vocab_size: int):
        from . import layers as L  # heavy: layers imports torch; the space package imports without it

        if task == "language_modelling" and (len(input_shape) != 1 or vocab_size <= 0):
            raise SpecError("task", "language modelling needs token sequences: input_shape (L,) and vocab_size > 0")
        if len(input_shape) == 1 and vocab_size > 0:
            return L.TokenEmbedding(vocab_size, dim, input_shape[0])
        if len(input_shape) == 1:
            return L.FeatureEmbedding(input_shape[0], dim)
        if len(input_shape) == 3:
            channels, height, width = input_shape
            patch = min(self.spec["patch_size"], height, width)
            return L.PatchEmbedding(channels, height, width, patch, dim)
        raise SpecError("input_shape", f"needs (L,) tokens, (F,) features or (C, H, W) images, got {input_shape}")

    def decoder_params(self, arch: dict, vocab_size: int = 0) -> int:
        """Parameters of the attention layers alone: the LiteTransformerSearch proxy,
        which ranks language models by their non-embedding decoder parameters.

        Embeddings, final norm and the output head are excluded, so vocab_size
        does not change the count; it is accepted so that the proxy can be
        called with the same arguments as the model builder.
        """
        self.validate_arch(arch)
        dim = arch["embed_dim"]
        return sum(transformer_layer_params(dim, mlp_hidden_units(dim, arch[f"mlp_ratio_{i}"]))
                   for i in range(1, arch["depth"] + 1))

    def describe(self, arch: dict) -> str:
        layers = ", ".join(f"{arch[f'heads_{i}']}h x{arch[f'mlp_ratio_{i}']:g}" for i in range(1, arch["depth"] + 1))
        plural = "s" if arch["depth"] > 1 else ""
        return f"Transformer d{arch['embed_dim']}, {arch['depth']} layer{plural} ({layers})"
