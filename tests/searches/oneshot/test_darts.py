import pytest
import torch

from searches.checks import SpecError
from searches.oneshot.darts import Darts, run_darts, skip_count
from searches.spaces.nb201_cell import EDGE_NAMES

QUICK = {"epochs": 1, "batch_size": 64}


def set_alphas(search: Darts, values: dict[str, list[float]]) -> None:
    with torch.no_grad():
        for name, logits in values.items():
            search.alphas.alpha(name).copy_(torch.tensor(logits))


def test_derivation_takes_the_most_probable_op_per_edge_but_never_none(nb201, tiny_digits):
    search = Darts(nb201, tiny_digits, QUICK, seed=0)
    ops = nb201.spec["ops"]  # none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3
    favourite = {edge: ops[1 + i % 4] for i, edge in enumerate(EDGE_NAMES)}
    logits = {}
    for edge in EDGE_NAMES:
        row = [0.0] * len(ops)
        row[0] = 5.0  # 'none' is the most probable op everywhere ...
        row[ops.index(favourite[edge])] = 2.0  # ... and the runner-up is what DARTS keeps
        logits[edge] = row
    set_alphas(search, logits)
    arch, _ = search.derive()
    assert arch == favourite
    nb201.validate_arch(arch)


class CollapsingDarts(Darts):
    """A constructed collapse: epoch e's architecture steps make skip_connect the strongest op on
    the first e edges, the way DARTS drifts to parameter-free cells, one edge at a time. Before
    that, every edge prefers nor_conv_3x3."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        conv = self.space.spec["ops"].index("nor_conv_3x3")
        with torch.no_grad():
            for edge in EDGE_NAMES:
                self.alphas.alpha(edge)[conv] = 1.0

    def train_epoch(self, epoch):
        self.epoch_in_progress = epoch
        return super().train_epoch(epoch)

    def arch_step(self, x_train, y_train, x_val, y_val):
        skip = self.space.spec["ops"].index("skip_connect")
        with torch.no_grad():
            for edge in EDGE_NAMES[:self.epoch_in_progress]:
                self.alphas.alpha(edge)[skip] = 10.0
        return 0.0, 0


def test_darts_plus_early_stopping_ends_the_search_before_the_collapse(nb201, tiny_digits):
    plain = CollapsingDarts(nb201, tiny_digits, {"epochs": 4}, seed=0).run()
    assert plain.stopped == "completed" and plain.epochs_run == 4
    assert skip_count(plain.arch) == 4

    mitigated = CollapsingDarts(nb201, tiny_digits, {"epochs": 4, "early_stop_skips": 2}, seed=0).run()
    assert mitigated.stopped == "early_stopped" and mitigated.epochs_run == 2
    assert skip_count(mitigated.arch) == 2
    assert [info["skip_count"] for info in mitigated.history] == [1, 2]


def test_darts_minus_adds_a_decaying_auxiliary_skip(nb201, tiny_digits):
    search = Darts(nb201, tiny_digits, {"epochs": 3, "auxiliary_skip": True}, seed=0)
    x = tiny_digits.x_val[:16]
    gates = search.alphas.mixture_gates()
    search.supernet.eval()
    with torch.no_grad():
        search.supernet.auxiliary_skip_weight = 0.0
        without = search.supernet(x, gates)
        search.supernet.auxiliary_skip_weight = 1.0
        with_skip = search.supernet(x, gates)
    assert not torch.allclose(without, with_skip)

    result = search.run()
    betas = [info["auxiliary_skip_weight"] for info in result.history]
    assert betas == sorted(betas, reverse=True) and betas[0] < 1.0
    assert search.supernet.auxiliary_skip_weight == pytest.approx(0.0)  # decayed to zero by the last step


def test_mitigations_refuse_spaces_they_do_not_apply_to(chain_mlp, tiny_digits):
    with pytest.raises(SpecError, match="early_stop_skips"):
        Darts(chain_mlp, tiny_digits, {"early_stop_skips": 2})
    with pytest.raises(SpecError, match="auxiliary_skip"):
        Darts(chain_mlp, tiny_digits, {"auxiliary_skip": True})


def test_second_order_step_runs_and_moves_alpha_differently_from_first_order(nb201, tiny_digits):
    (x_train, y_train), (x_val, y_val) = [(tiny_digits.x_train[:32], tiny_digits.y_train[:32]),
                                          (tiny_digits.x_val[:32], tiny_digits.y_val[:32])]
    moved = {}
    for order in (1, 2):
        search = Darts(nb201, tiny_digits, {**QUICK, "order": order}, seed=0)
        before = [a.detach().clone() for a in search.alphas.alphas]
        search.arch_step(x_train, y_train, x_val, y_val)
        moved[order] = [a.detach() - b for a, b in zip(search.alphas.alphas, before, strict=True)]
        assert all(m.abs().sum() > 0 for m in moved[order])
    assert any(not torch.allclose(a, b) for a, b in zip(moved[1], moved[2], strict=True))


def test_second_order_step_restores_the_weights(nb201, tiny_digits):
    search = Darts(nb201, tiny_digits, {**QUICK, "order": 2}, seed=0)
    weights = [p.detach().clone() for p in search.supernet.parameters()]
    search.arch_step(tiny_digits.x_train[:32], tiny_digits.y_train[:32], tiny_digits.x_val[:32], tiny_digits.y_val[:32])
    assert all(torch.equal(w, p) for w, p in zip(weights, search.supernet.parameters(), strict=True))


def test_run_reports_weights_per_epoch_and_a_valid_arch(nb201, tiny_digits):
    seen = []
    result = run_darts(nb201, tiny_digits, {"epochs": 2}, seed=0, on_epoch=lambda e, info: seen.append((e, info)))
    assert [e for e, _ in seen] == [1, 2]
    assert len(result.arch_weights) == 2 and set(result.arch_weights[0]) == set(EDGE_NAMES)
    assert result.arch_weights[0] != result.arch_weights[1]  # alpha moved
    assert seen[1][1]["arch_weights"] == result.arch_weights[1]
    nb201.validate_arch(result.arch)
    assert "none" not in result.arch.values()
    assert result.timings["search_seconds"] > 0 and len(result.timings["epoch_seconds"]) == 2


def test_on_epoch_returning_false_stops(nb201, tiny_digits):
    result = run_darts(nb201, tiny_digits, {"epochs": 5}, seed=0, on_epoch=lambda e, info: False)
    assert result.stopped == "stopped_by_callback" and result.epochs_run == 1
    nb201.validate_arch(result.arch)


def test_same_seed_same_search_other_seed_other_search(nb201, tiny_digits):
    first = run_darts(nb201, tiny_digits, {"epochs": 1}, seed=3)
    again = run_darts(nb201, tiny_digits, {"epochs": 1}, seed=3)
    other = run_darts(nb201, tiny_digits, {"epochs": 1}, seed=4)
    assert first.arch_weights == again.arch_weights and first.arch == again.arch
    assert first.arch_weights != other.arch_weights


def test_unknown_settings_are_refused(nb201, tiny_digits):
    with pytest.raises(SpecError, match="not a setting"):
        Darts(nb201, tiny_digits, {"learning_rate": 1})
    with pytest.raises(SpecError, match="order"):
        Darts(nb201, tiny_digits, {"order": 3})
