import pytest
import torch

from searches.checks import SpecError
from searches.oneshot.darts import skip_count
from searches.oneshot.pdarts import PDarts, split_epochs
from searches.oneshot.supernet_nb201 import MixedCell, SkipDropout
from searches.spaces.nb201 import NB201Space
from searches.spaces.nb201_cell import EDGE_NAMES


@pytest.fixture
def deep_nb201():
    return NB201Space({"C": 4, "N": 3})


def mixed_cells(supernet) -> int:
    return sum(isinstance(m, MixedCell) for m in supernet.modules())


def test_the_supernet_deepens_while_the_op_set_shrinks(deep_nb201, tiny_digits):
    search = PDarts(deep_nb201, tiny_digits, {"epochs": 3, "batch_size": 96}, seed=0)
    assert mixed_cells(search.supernet) == 3 * 1
    depths, kept = [], []
    result = search.run(lambda epoch, info: depths.append(mixed_cells(search.supernet)) or kept.append(
        {name: len(choices) for name, choices in info["kept_choices"].items()}))
    assert [info["cells"] for info in result.history] == [1, 2, 3]
    assert depths == [3, 6, 9]
    assert [set(k.values()) for k in kept] == [{5}, {3}, {2}]
    last = result.history[-1]
    for edge in EDGE_NAMES:
        assert "none" not in last["kept_choices"][edge]
        weights = last["arch_weights"][edge]
        assert abs(sum(weights.values()) - 1) < 1e-6
        assert all(weights[op] == 0 for op in weights if op not in last["kept_choices"][edge])
        assert result.arch[edge] in last["kept_choices"][edge]
    deep_nb201.validate_arch(result.arch)


def test_dropped_ops_are_not_computed(deep_nb201, tiny_digits):
    search = PDarts(deep_nb201, tiny_digits, {"epochs": 2, "stages": 2, "ops_kept": [1], "skip_dropout": [0.0, 0.3],
                                                     "batch_size": 96}, seed=0)
    search.run()
    conv = deep_nb201.spec["ops"].index("nor_conv_3x3")
    gates = search.mixture_gates()
    assert all(len(gate.indices) == 1 for gate in gates.values())
    untouched = [edge for edge in EDGE_NAMES if conv not in gates[edge].indices]
    assert untouched  # some edge dropped its 3x3 conv: it gets no gradient any more
    x, y = tiny_digits.x_train[:32], tiny_digits.y_train[:32]
    search.supernet.zero_grad()
    torch.nn.functional.cross_entropy(search.supernet(x, gates), y).backward()
    cell = next(m for m in search.supernet.modules() if isinstance(m, MixedCell))
    assert all(p.grad is None for p in cell.edges[untouched[0]].candidates[conv].parameters())


def test_skip_connections_are_capped_keeping_the_strongest(nb201, tiny_digits):
    search = PDarts(nb201, tiny_digits, {"epochs": 1, "stages": 1, "ops_kept": [], "skip_dropout": [0.0],
                                         "max_skips": 2}, seed=0)
    ops = nb201.spec["ops"]
    with torch.no_grad():
        for rank, edge in enumerate(EDGE_NAMES):
            alpha = search.alphas.alpha(edge)
            alpha.zero_()
            alpha[ops.index("skip_connect")] = 5.0 - 0.5 * rank  # skip wins everywhere, most on the first edges
            alpha[ops.index("nor_conv_1x1")] = 1.0  # ... and the 1x1 conv comes second
    arch = search.current_arch()
    assert skip_count(arch) == 2
    assert [arch[edge] for edge in EDGE_NAMES] == ["skip_connect"] * 2 + ["nor_conv_1x1"] * 4
    uncapped = PDarts(nb201, tiny_digits, {"epochs": 1, "stages": 1, "ops_kept": [], "skip_dropout": [0.0],
                                           "max_skips": 0}, seed=0)
    uncapped.alphas.load_state_dict(search.alphas.state_dict())
    assert skip_count(uncapped.current_arch()) == 6


class RecordingPDarts(PDarts):
    def weight_step(self, x, y, gates):
        self.rates.append(next(m for m in self.supernet.modules() if isinstance(m, SkipDropout)).p)
        return super().weight_step(x, y, gates)


def test_skip_dropout_starts_at_the_stage_rate_and_decays_to_zero(nb201, tiny_digits):
    search = RecordingPDarts(nb201, tiny_digits, {"epochs": 4, "stages": 2, "ops_kept": [3],
                                                  "skip_dropout": [0.2, 0.6], "batch_size": 48}, seed=0)
    search.rates = []
    search.run()
    per_stage = 2 * search.steps_per_epoch()
    first, second = search.rates[:per_stage], search.rates[per_stage:]
    assert first[0] == pytest.approx(0.2) and second[0] == pytest.approx(0.6)
    for rates in (first, second):
        assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    assert second[-1] < 0.6 / per_stage + 1e-9


def test_skip_dropout_changes_the_skip_path_only_in_training(nb201, tiny_digits):
    search = PDarts(nb201, tiny_digits, {"epochs": 1, "stages": 1, "ops_kept": [], "skip_dropout": [0.5]}, seed=0)
    skip = next(m for m in search.supernet.modules() if isinstance(m, SkipDropout))
    x = torch.ones(4, 8)
    search.supernet.set_skip_dropout(0.5)
    skip.train()
    assert (skip(x) == 0).any()
    skip.eval()
    assert torch.equal(skip(x), x)


def test_warm_up_epochs_train_weights_only(nb201, tiny_digits):
    result = PDarts(nb201, tiny_digits, {"epochs": 4, "stages": 2, "ops_kept": [3], "skip_dropout": [0.0, 0.3],
                                                 "warmup_fraction": 0.5},
                    seed=0).run()
    assert [info["val_loss"] is None for info in result.history] == [True, False, True, False]


def test_epochs_are_split_among_stages():
    assert split_epochs(7, 3) == [2, 2, 3] and split_epochs(3, 3) == [1, 1, 1] and split_epochs(5, 1) == [5]


def test_a_seeded_run_repeats(nb201, tiny_digits):
    settings = {"epochs": 2, "stages": 2, "ops_kept": [2], "skip_dropout": [0.1, 0.3]}
    first = PDarts(nb201, tiny_digits, settings, seed=3).run()
    second = PDarts(nb201, tiny_digits, settings, seed=3).run()
    assert first.arch == second.arch and first.arch_weights == second.arch_weights


@pytest.mark.parametrize("overrides, field", [
    ({"epochs": 2}, "epochs"),
    ({"ops_kept": [3]}, "ops_kept"),
    ({"ops_kept": [2, 3]}, "ops_kept"),
    ({"stage_cells": [2, 1, 1]}, "stage_cells"),
    ({"stage_cells": [1, 2]}, "stage_cells"),
    ({"skip_dropout": [0.1, 1.0, 0.2]}, "skip_dropout"),
    ({"order": 2}, "order"),
])
def test_bad_settings_are_refused(nb201, tiny_digits, overrides, field):
    with pytest.raises(SpecError) as exc:
        PDarts(nb201, tiny_digits, {"epochs": 3, **overrides})
    assert exc.value.field == field


def test_depth_is_not_grown_where_it_is_a_decision(chain_mlp, tiny_digits):
    with pytest.raises(SpecError, match="searches its depth as a decision"):
        PDarts(chain_mlp, tiny_digits, {"epochs": 3, "stage_cells": [1, 2, 3]})
    result = PDarts(chain_mlp, tiny_digits, {"epochs": 3, "ops_kept": [2, 1]}, seed=0).run()
    assert all(len(choices) == 1 for choices in result.history[-1]["kept_choices"].values())
    chain_mlp.validate_arch(result.arch)
