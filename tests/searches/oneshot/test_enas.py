import torch

from searches.oneshot.enas import Controller, ReinforceTrainer, run_enas


def test_controller_moves_toward_rewarded_choices(nb201):
    controller = Controller(nb201.decisions)
    trainer = ReinforceTrainer(controller, nb201, lr=0.1, baseline_decay=0.9, entropy_weight=0.0)
    generator = torch.Generator().manual_seed(0)
    conv = nb201.decision("edge_1<-0").index_of("nor_conv_3x3")
    for _ in range(40):
        archs = [controller.sample(nb201, generator) for _ in range(4)]
        rewards = [1.0 if arch["edge_1<-0"] == "nor_conv_3x3" else 0.0 for arch in archs]
        trainer.update(archs, rewards)
    probs = controller.probabilities()["edge_1<-0"]
    assert probs[conv] > 0.6  # from 0.2 (uniform over 5 ops)
    assert int(probs.argmax()) == conv


def test_baseline_is_a_moving_average_of_rewards(nb201):
    trainer = ReinforceTrainer(Controller(nb201.decisions), nb201, lr=0.1, baseline_decay=0.5, entropy_weight=0.0)
    arch = nb201.complete({})
    assert trainer.update([arch, arch], [1.0, 0.0]) == 0.5  # the first batch's mean
    assert trainer.baseline == 0.5 * (0.5 * 0.5 + 0.5 * 1.0) + 0.5 * 0.0


def test_enas_derives_the_best_candidate_by_inherited_accuracy(nb201, tiny_digits):
    seen = []
    result = run_enas(nb201, tiny_digits, {"epochs": 2, "controller_steps": 3, "derive_samples": 4}, seed=0,
                      on_epoch=lambda e, info: seen.append(info))
    nb201.validate_arch(result.arch)
    assert 1 <= len(result.candidates) <= 5
    best = max(result.candidates, key=lambda c: c["val_accuracy"])
    assert result.arch == best["arch"]
    assert len(result.arch_weights) == 2 and all("mean_reward" in info for info in seen)
    for choices in result.arch_weights[-1].values():
        assert abs(sum(choices.values()) - 1) < 1e-6


def test_enas_is_deterministic_under_the_seed(nb201, tiny_digits):
    settings = {"epochs": 1, "controller_steps": 2, "derive_samples": 2}
    first = run_enas(nb201, tiny_digits, settings, seed=1)
    again = run_enas(nb201, tiny_digits, settings, seed=1)
    assert first.arch_weights == again.arch_weights and first.candidates == again.candidates


def test_enas_stops_when_on_epoch_says_so(nb201, tiny_digits):
    result = run_enas(nb201, tiny_digits, {"epochs": 4, "controller_steps": 1, "derive_samples": 1}, seed=0,
                      on_epoch=lambda e, info: e < 2)
    assert result.stopped == "stopped_by_callback" and result.epochs_run == 2
