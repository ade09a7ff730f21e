"""MODEL_EMA's average of the weights: its ramped decay, its buffers, lending its weights
for an evaluation, and which weights a checkpoint's load gives the model."""

import seg_d2
from seg_d2.engine.checkpoint import CheckpointError, SafeCheckpointer
from seg_d2.engine.model_ema import CHECKPOINT_KEY, ModelEMA

import pytest
import torch
from torch import nn


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))


def _set(model, value):
    with torch.no_grad():
        for tensor in [*model.parameters(), model[1].running_mean]:
            tensor.fill_(value)


def _steps(average, model, values):
    for value in values:
        _set(model, value)
        average.after_step()


def test_the_first_update_copies_and_later_ones_ramp_up_to_the_decay():
    model = _model()
    average = ModelEMA(model, decay=0.5)
    _steps(average, model, [4.0])
    assert average.averaged.module[0].weight.unique().tolist() == [4.0]
    # second update: rate min(0.5, 2/11), the new weights count 9/11
    _steps(average, model, [15.0])
    assert average.averaged.module[0].weight[0, 0].item() == pytest.approx(4.0 + 11.0 * 9 / 11)
    # from n = 8 on, (1 + n) / (10 + n) >= 0.5: the decay holds
    _steps(average, model, [0.0] * 7 + [1.0])
    before = average.averaged.module[0].bias[0].item()
    _steps(average, model, [3.0])
    assert average.averaged.module[0].bias[0].item() == pytest.approx(before + (3.0 - before) / 2)


def test_buffers_are_averaged_with_the_weights():
    model = _model()
    average = ModelEMA(model, decay=0.9)
    _steps(average, model, [2.0, 13.0])
    averaged = average.averaged.module
    assert averaged[1].running_mean.tolist() == pytest.approx([2.0 + 11.0 * 9 / 11] * 2)
    assert averaged[1].weight.tolist() == averaged[1].running_mean.tolist()


def test_weights_in_lends_the_average_and_gives_the_model_its_own_back_even_on_error():
    model = _model()
    average = ModelEMA(model, decay=0.5)
    _steps(average, model, [1.0])
    _set(model, 7.0)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        with average.weights_in(model) as lent:
            assert lent is model
            assert model[0].weight.unique().tolist() == [1.0]
            assert model[1].running_mean.tolist() == [1.0, 1.0]
            raise RuntimeError("evaluation failed")
    assert model[0].weight.unique().tolist() == [7.0]
    assert model[1].running_mean.tolist() == [7.0, 7.0]


def test_before_the_first_update_the_model_keeps_its_weights():
    model = _model()
    average = ModelEMA(model, decay=0.5)
    _set(model, 5.0)
    with average.weights_in(model):
        assert model[0].weight.unique().tolist() == [5.0]
    average.copy_to(model)
    assert model[0].weight.unique().tolist() == [5.0]


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5])
def test_a_decay_outside_0_to_1_is_refused(decay):
    with pytest.raises(ValueError, match="MODEL_EMA.DECAY"):
        ModelEMA(_model(), decay)


def test_it_is_off_by_default_and_on_by_the_config():
    cfg = seg_d2.get_cfg()
    assert ModelEMA.from_config(cfg, _model()) is None
    cfg.MODEL_EMA.ENABLED, cfg.MODEL_EMA.DECAY = True, 0.25
    built = ModelEMA.from_config(cfg, _model())
    model = built._model
    _steps(built, model, [0.0] * 9 + [4.0])
    assert built.averaged.module[0].bias[0].item() == pytest.approx(3.0)


def _checkpoint(tmp_path):
    """A checkpoint whose model's weights are 8 and whose average's are 2."""
    model = _model()
    average = ModelEMA(model, decay=0.5)
    _steps(average, model, [2.0])
    _set(model, 8.0)
    SafeCheckpointer(model, str(tmp_path), **{CHECKPOINT_KEY: average.averaged}).save("model")
    return str(tmp_path / "model.pth")


def test_a_load_for_inference_takes_the_average(tmp_path):
    model = _model()
    SafeCheckpointer(model).load(_checkpoint(tmp_path))
    assert model[0].weight.unique().tolist() == [2.0]
    assert model[1].running_mean.tolist() == [2.0, 2.0]


def test_a_load_without_checkpointables_takes_the_average(tmp_path):
    model = _model()
    average = ModelEMA(model, decay=0.5)
    checkpointer = SafeCheckpointer(model, **{CHECKPOINT_KEY: average.averaged})
    checkpointer.load(_checkpoint(tmp_path), checkpointables=[])
    assert model[0].weight.unique().tolist() == [2.0]
    assert int(average.averaged.n_averaged) == 0


def test_resuming_restores_the_model_and_its_average_apart(tmp_path):
    model = _model()
    average = ModelEMA(model, decay=0.5)
    checkpointer = SafeCheckpointer(model, **{CHECKPOINT_KEY: average.averaged})
    checkpointer.load(_checkpoint(tmp_path))
    assert model[0].weight.unique().tolist() == [8.0]
    assert average.averaged.module[0].weight.unique().tolist() == [2.0]
    assert int(average.averaged.n_averaged) == 1


def test_an_average_that_is_not_weights_is_an_error_naming_the_file(tmp_path):
    path = str(tmp_path / "odd.pth")
    torch.save({"model": _model().state_dict(), CHECKPOINT_KEY: [1, 2]}, path)
    with pytest.raises(CheckpointError, match=r"odd.pth.*TypeError: its model_ema is a list"):
        SafeCheckpointer(_model()).load(path)
