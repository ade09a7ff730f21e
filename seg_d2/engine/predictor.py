"""One way to run a trained seg_d2 model on images, shared by the tools and by users'
own Python: detectron2's ``DefaultPredictor`` preprocessing, in batches, for files,
folders or arrays whose colour order is said, with ``TEST.SLIDING_WINDOW`` and
``TEST.AUG`` applied as the config sets them.

    predictor = Predictor.from_config_file("configs/nuclei/mask_rcnn_R18_FPN.yaml",
                                           "output/nuclei/mask_rcnn_R18_FPN/model_final.pth")
    for file_name, image, output in predictor.predict_files(["my_images/"]):
        records = coco_records(output, image_id=1, metadata=predictor.metadata)

(``coco_records`` and the other converters of an output are in ``seg_d2.engine.outputs``.)
"""

import numpy as np
import torch
from detectron2.config import instantiate
from detectron2.data import DatasetCatalog, Metadata, MetadataCatalog
from detectron2.data import transforms as T

from ..config_setup import is_lazy_config, settings_of, setup_config, with_weights_and_device
from ..data.image_io import ImageReadError, list_image_files, read_image
from ..modeling import with_test_options
from .checkpoint import load_weights
from .lazy_training import load_lazy_model
from .onnx_backend import evenly_spaced, with_backend
from .run_folder import load_run
from .trainer import Trainer

__all__ = ["Predictor", "load_model"]

COLOUR_ORDERS = ("RGB", "BGR")


class Predictor:
    def __init__(
        self,
        cfg,
        model=None,
        test_time_augmentation=None,
        metadata=None,
        backend="pytorch",
        calibration_images=None,
    ):
        """
        Args:
            cfg: a set-up config (``seg_d2.setup_config``): YAML, whose MODEL.WEIGHTS are
                loaded, or Python, whose ``train.init_checkpoint`` is; unless ``model`` is
                given.
            model: an already loaded model (e.g. ``PosthocPanoptic``) to run instead.
            test_time_augmentation: True/False to override ``TEST.AUG.ENABLED``
                (``test.aug.enabled``); ``TEST.SLIDING_WINDOW`` applies as configured.
            metadata: the classes' metadata, when the test dataset is not registered
                (a run folder's, ``from_run``).
            backend: "pytorch", or "onnxruntime": the model exported to ONNX and run by
                ONNX Runtime on the CPU, same outputs (``onnx_backend``); Mask R-CNN and
                semantic models, without test-time augmentation or sliding windows;
                "onnxruntime-int8": the same quantised to 8-bit integers.
            calibration_images: for "onnxruntime-int8", image files or folders like those
                the model will see (TEST.INT8.CALIBRATION_IMAGES of them are read, evenly
                spaced); by default the images of the config's first training dataset.
        """
        lazy = is_lazy_config(cfg)
        self.cfg = cfg if lazy else cfg.clone()  # the config the model was built from
        self.input_format = cfg.dataloader.test.mapper.image_format if lazy else cfg.INPUT.FORMAT
        if self.input_format not in COLOUR_ORDERS:
            key = "dataloader.test.mapper.image_format" if lazy else "INPUT.FORMAT"
            raise ValueError(
                f"Predictor runs models of {key} {COLOUR_ORDERS}, not {self.input_format!r}"
            )
        if lazy:
            test = cfg.dataloader.test
            self.resize = T.AugmentationList(instantiate(test.mapper.augmentations))
            names = test.dataset.names
            dataset = names if isinstance(names, str) else names[0]
            if model is None:
                model = load_lazy_model(cfg, cfg.train.init_checkpoint)
        else:
            self.resize = T.ResizeShortestEdge(
                [cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST
            )
            dataset = cfg.DATASETS.TEST[0] if cfg.DATASETS.TEST else None
            if model is None:
                model = load_model(cfg)
        model.eval()
        test_options = settings_of(cfg).test_options()
        self.model = with_backend(
            backend,
            model,
            with_test_options(test_options, model, test_time_augmentation),
            calibration=lambda: self._calibration_inputs(
                calibration_images, test_options.TEST.INT8.CALIBRATION_IMAGES
            ),
            float_layers=test_options.TEST.INT8.FLOAT_LAYERS,
        ).eval()
        if metadata is None:
            metadata = MetadataCatalog.get(dataset) if dataset else Metadata()
        self.metadata = metadata

    @classmethod
    def from_config_file(cls, config_file, weights, opts=(), **kwargs):
        """A predictor for ``weights`` trained with ``config_file`` (+ overrides ``opts``:
        ``KEY VALUE`` for YAML, ``key=value`` for Python configs)."""
        overrides = with_weights_and_device(config_file, opts, weights)
        return cls(setup_config(config_file, overrides), **kwargs)

    @classmethod
    def from_run(cls, folder, weights=None, opts=(), **kwargs):
        """A predictor for a training run's folder alone (``seg_d2.engine.run_folder``):
        its config, its ``weights`` file (default model_final.pth) and its classes, no
        dataset needed."""
        cfg, metadata = load_run(folder, weights, opts)
        return cls(cfg, metadata=metadata, **kwargs)

    def __call__(self, image, format):
        """The output of one HxWx3 uint8 image whose channels are in ``format`` order."""
        return self.predict([image], format)[0]

    @torch.no_grad()
    def predict(self, images, format, batch_size=1):
        """detectron2's output dict for each HxWx3 uint8 image, in ``format`` colour order
        ("RGB" or "BGR"), run ``batch_size`` at a time."""
        if format not in COLOUR_ORDERS:
            raise ValueError(f"format must be one of {COLOUR_ORDERS}, not {format!r}")
        inputs = [self.model_input(image, format) for image in images]
        outputs = []
        for start in range(0, len(inputs), batch_size):
            outputs += self.model(inputs[start : start + batch_size])
        return outputs

    def predict_files(self, paths, batch_size=1, skipped=None):
        """(file name, RGB image, output) for each image file in ``paths`` (files, and
        the images of folders), in order. A file that cannot be read raises
        ImageReadError naming it, or, given a list ``skipped``, is appended to it and
        left out."""
        batch = []
        for file_name in list_image_files(paths):
            try:
                batch.append((file_name, read_image(file_name, format="RGB")))
            except ImageReadError as error:
                if skipped is None:
                    raise
                skipped.append(error)
                continue
            if len(batch) == batch_size:
                yield from self._predict_batch(batch)
                batch = []
        yield from self._predict_batch(batch)

    def _predict_batch(self, batch):
        outputs = self.predict([image for _, image in batch], "RGB", batch_size=len(batch) or 1)
        for (file_name, image), output in zip(batch, outputs):
            yield file_name, image, output

    def _calibration_inputs(self, paths, count):
        if paths is None:
            datasets = settings_of(self.cfg).training_datasets
            if not datasets or datasets[0] not in DatasetCatalog.list():
                raise ValueError(
                    "the onnxruntime-int8 backend calibrates on the training dataset, which is "
                    "not registered here: give calibration_images (--calibration-images)"
                )
            files = [record["file_name"] for record in DatasetCatalog.get(datasets[0])]
        else:
            files = list_image_files(paths)
        return [
            self.model_input(read_image(file_name, format="RGB"), "RGB")
            for file_name in evenly_spaced(files, count)
        ]

    def model_input(self, image, format):
        """detectron2's input dict of one image: resized to the test size, in the model's
        colour order."""
        if format != self.input_format:
            image = image[:, :, ::-1]  # RGB <-> BGR, the two orders a Predictor takes
        image = np.ascontiguousarray(image)
        resized = T.AugInput(image)
        self.resize(resized)
        resized = resized.image
        tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
        return {"image": tensor, "height": image.shape[0], "width": image.shape[1]}


def load_model(cfg):
    """The config's model with its MODEL.WEIGHTS, in eval mode."""
    model = Trainer.build_model(cfg)
    return load_weights(model, cfg.MODEL.WEIGHTS).eval()
