"""seg_d2.Predictor: files and folders in order with unreadable ones skipped or named,
batches that give what single images give, COCO records in the dataset's ids, and
test-time augmentation from the config or the caller."""

import seg_d2
from seg_d2.data.image_io import ImageReadError, read_image
from seg_d2.engine import Predictor, Trainer, semantic_labels
from seg_d2.modeling import SemanticSegmentorWithTTA

import numpy as np
import pytest
import torch
from detectron2.modeling import SemanticSegmentor

UNET = "configs/shapes/unet.yaml"


def _unet_predictor(*opts, **kwargs):
    cfg = seg_d2.setup_config(
        UNET, ["MODEL.DEVICE", "cpu", "MODEL.UNET.BASE_CHANNELS", 4, "MODEL.WEIGHTS", "", *opts]
    )
    return Predictor(cfg, **kwargs)


@pytest.fixture
def image_folder(tiny_shapes, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for source in sorted((tiny_shapes / "val").iterdir())[:2]:
        (folder / source.name).write_bytes(source.read_bytes())
    (folder / "broken.png").write_bytes(b"not a PNG")
    return folder


def test_files_and_folders_in_order_with_unreadable_files_skipped_or_named(image_folder):
    predictor = _unet_predictor()
    skipped = []
    first = sorted(image_folder.glob("*.jpg"))[0]
    predictions = list(predictor.predict_files([str(first), str(image_folder)], 2, skipped))
    names = [file_name for file_name, _, _ in predictions]
    assert [n.rsplit("/", 1)[1] for n in names] == [first.name] + [
        p.name for p in sorted(image_folder.glob("*.jpg"))
    ]
    assert len(skipped) == 1 and "broken.png" in str(skipped[0])
    file_name, image, output = predictions[0]
    assert np.array_equal(image, read_image(file_name, format="RGB"))
    assert output["sem_seg"].shape[1:] == image.shape[:2]
    with pytest.raises(ImageReadError, match="broken.png"):
        list(predictor.predict_files([str(image_folder)]))


def test_a_batch_gives_what_each_image_gives_alone(image_folder):
    predictor = _unet_predictor()
    images = [read_image(str(p), format="RGB") for p in sorted(image_folder.glob("*.jpg"))]
    together = predictor.predict(images, "RGB", batch_size=2)
    for image, output in zip(images, together):
        # Equal up to the float rounding of another convolution algorithm for a batch.
        alone = predictor(image, "RGB")["sem_seg"]
        torch.testing.assert_close(output["sem_seg"], alone, rtol=1e-4, atol=1e-4)
    labels = semantic_labels(together[0])
    assert labels.dtype == np.uint8 and labels.shape == images[0].shape[:2]
    assert np.array_equal(labels, together[0]["sem_seg"].argmax(0).numpy())


def test_files_are_predicted_in_batches_of_the_size_asked_for(image_folder, monkeypatch):
    predictor = _unet_predictor()
    batches = []
    monkeypatch.setattr(
        predictor,
        "predict",
        lambda images, format, batch_size: (
            batches.append((len(images), format, batch_size)) or [{} for _ in images]
        ),
    )
    files = sorted(str(p) for p in image_folder.glob("*.jpg"))
    assert len(list(predictor.predict_files(files * 2, batch_size=3))) == 4
    assert batches == [(3, "RGB", 3), (1, "RGB", 1)]
    batches.clear()
    assert list(predictor.predict_files([], batch_size=3)) == []
    assert batches == [(0, "RGB", 1)]


def test_colour_orders_it_does_not_know_are_refused():
    predictor = _unet_predictor()
    with pytest.raises(ValueError, match="'GRAY'"):
        predictor.predict([np.zeros((8, 8, 3), np.uint8)], "GRAY")
    with pytest.raises(ValueError, match="INPUT.FORMAT"):
        _unet_predictor("INPUT.FORMAT", "L")


@pytest.mark.parametrize(
    "enabled, argument, augmented",
    [(False, None, False), (True, None, True), (True, False, False), (False, True, True)],
)
def test_test_time_augmentation_from_the_config_unless_the_caller_says(
    enabled, argument, augmented
):
    predictor = _unet_predictor("TEST.AUG.ENABLED", enabled, test_time_augmentation=argument)
    assert isinstance(predictor.model, SemanticSegmentorWithTTA) == augmented
    assert isinstance(predictor.model, SemanticSegmentor) != augmented


def test_weights_are_loaded_from_the_config(tmp_path):
    from detectron2.checkpoint import DetectionCheckpointer

    trained = _unet_predictor().model
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.fill_(0.5)
    DetectionCheckpointer(trained, save_dir=str(tmp_path)).save("filled")
    loaded = Predictor.from_config_file(
        UNET, str(tmp_path / "filled.pth"), ["MODEL.DEVICE", "cpu", "MODEL.UNET.BASE_CHANNELS", 4]
    )
    assert all(torch.all(p == 0.5) for p in loaded.model.parameters())
    assert not loaded.model.training


def test_the_trainers_model_is_what_it_runs(monkeypatch):
    built = []
    original = Trainer.build_model.__func__

    def recording(cls, cfg):
        built.append(original(cls, cfg))
        return built[-1]

    monkeypatch.setattr(Trainer, "build_model", classmethod(recording))
    predictor = _unet_predictor("MODEL.CHANNELS_LAST", True)
    assert predictor.model is built[0]


def test_from_config_file_sets_up_each_kind_of_config_with_the_weights(monkeypatch):
    from seg_d2.engine import predictor

    monkeypatch.setattr(predictor, "setup_config", lambda *a: a)

    class Made(Predictor):
        def __init__(self, cfg, **kwargs):
            self.cfg, self.kwargs = cfg, kwargs

    yaml = Made.from_config_file("a.yaml", "w.pth", ["K", "V"], dataset="d")
    assert (yaml.cfg, yaml.kwargs) == (
        ("a.yaml", ["K", "V", "MODEL.WEIGHTS", "w.pth"]),
        {"dataset": "d"},
    )
    python = Made.from_config_file("a.py", "w.pth", ["k=v"], dataset="d")
    assert (python.cfg, python.kwargs) == (
        ("a.py", ["k=v", "train.init_checkpoint=w.pth"]),
        {"dataset": "d"},
    )
