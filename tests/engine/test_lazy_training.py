"""Training from a Python config in-process (the fast tier's view of
seg_d2.engine.lazy_training; the slow test runs tools/train_net.py end to end)."""

import json
import os

from seg_d2.config_setup import setup_config
from seg_d2.engine.lazy_training import _clipped, evaluate_lazy, load_lazy_model, train_lazy
from seg_d2.engine.run_folder import load_run, run_datasets, write_run_metadata

import pytest
import torch
from detectron2.config import LazyConfig
from helpers import REPO, python_config_overrides
from omegaconf import OmegaConf

UNET = os.path.join(REPO, "configs/shapes/unet.py")

pytestmark = pytest.mark.usefixtures("tiny_datasets_removed_after")


def _unet_config(data, output_dir, *overrides):
    return setup_config(
        UNET,
        [
            *python_config_overrides(data, output_dir, size=64),
            "dataloader.train.dataset.names=tiny_train_sem_seg",
            "dataloader.test.dataset.names=tiny_val_sem_seg",
            "train.checkpointer.period=2",
            "train.log_period=1",
            *overrides,
        ],
    )


def _iterations(output_dir):
    with open(os.path.join(output_dir, "metrics.json")) as f:
        return [row["iteration"] for row in map(json.loads, f) if "total_loss" in row]


def test_a_python_config_trains_evaluates_checkpoints_and_resumes(tiny_shapes, tmp_path):
    cfg = _unet_config(tiny_shapes, tmp_path, "train.max_iter=3", "train.eval_period=3")
    results = train_lazy(cfg)
    assert set(results["sem_seg"]) >= {"mIoU", "fwIoU", "pACC"}
    assert (tmp_path / "model_0000001.pth").exists()
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"
    assert _iterations(tmp_path) == [0, 1, 2]

    resumed = _unet_config(tiny_shapes, tmp_path, "train.max_iter=5", "train.eval_period=100")
    assert "sem_seg" in train_lazy(resumed, resume=True)  # evaluated once more at the end
    assert _iterations(tmp_path) == [0, 1, 2, 3, 4]
    final = torch.load(tmp_path / "model_final.pth", weights_only=True)
    assert final["iteration"] == 4

    model = load_lazy_model(resumed, str(tmp_path / "model_final.pth"))
    assert not model.training
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, final["model"][name])


def test_a_python_config_run_folder_is_read_back_as_one(tiny_shapes, tmp_path, monkeypatch):
    cfg = _unet_config(tiny_shapes, tmp_path)
    entries, test_dataset = run_datasets(cfg)
    assert [entry.split("=")[0] for entry in entries] == ["tiny_train", "tiny_val"]
    assert test_dataset == "tiny_val_sem_seg"
    write_run_metadata(str(tmp_path), cfg)
    LazyConfig.save(cfg, str(tmp_path / "config.yaml"))

    loaded, metadata = load_run(str(tmp_path), "best/model_best.pth", ["train.max_iter=7"])
    assert metadata.name == "tiny_val_sem_seg"
    assert metadata.stuff_classes == ["circle", "triangle", "square", "star", "sky", "ground"]
    assert loaded.train.init_checkpoint == str(tmp_path / "best/model_best.pth")
    assert (loaded.train.max_iter, loaded.train.device) == (7, "cpu")
    loaded, _ = load_run(str(tmp_path))
    assert loaded.train.init_checkpoint == str(tmp_path / "model_final.pth")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # keeps the device asked
    loaded, _ = load_run(str(tmp_path), device="cuda:1")
    assert loaded.train.device == "cuda:1"


def test_without_an_evaluator_testing_gives_no_results(tiny_shapes, tmp_path):
    cfg = _unet_config(tiny_shapes, tmp_path)
    del cfg.dataloader.evaluator
    assert evaluate_lazy(cfg, model=None) == {}


def _gradient_after_clipping(clip):
    cfg = OmegaConf.create({"train": {} if clip is None else {"clip_gradients": clip}})
    weight = torch.nn.Parameter(torch.zeros(2))
    optimizer = _clipped(cfg, torch.optim.SGD([weight], lr=1.0))
    weight.grad = torch.tensor([3.0, -4.0])
    optimizer.step()
    return -weight.detach()


def test_clip_gradients_clips_as_solver_clip_gradients_does():
    assert _gradient_after_clipping(None).tolist() == [3.0, -4.0]
    by_value = {"enabled": True, "clip_type": "value", "clip_value": 1.0}
    assert _gradient_after_clipping(by_value).tolist() == [1.0, -1.0]
    by_norm = {"enabled": True, "clip_type": "norm", "clip_value": 1.0}
    assert torch.allclose(_gradient_after_clipping(by_norm), torch.tensor([0.6, -0.8]))
