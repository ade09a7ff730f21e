"""Data loaders and the evaluator as seg_d2's Trainer builds them, with every value taken
from a YAML config's ``DATASETS.*``, ``INPUT.*``, ``DATALOADER.*`` and ``SOLVER.*``."""

from seg_d2.data.augmentation import parse_augmentation
from seg_d2.data.mapper import DatasetMapper
from seg_d2.evaluation import build_evaluator

from detectron2.config import LazyCall as L
from detectron2.data import (
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.data import transforms as T
from omegaconf import OmegaConf


def train_augmentations(cfg):
    """detectron2's ``build_augmentation`` for training, its crop first when
    ``INPUT.CROP.ENABLED``, then ``INPUT.EXTRA_AUGMENTATIONS`` as seg_d2 parses them."""
    inputs = cfg.INPUT
    augmentations = [
        L(T.ResizeShortestEdge)(
            short_edge_length=list(inputs.MIN_SIZE_TRAIN),
            max_size=inputs.MAX_SIZE_TRAIN,
            sample_style=inputs.MIN_SIZE_TRAIN_SAMPLING,
        )
    ]
    if inputs.RANDOM_FLIP != "none":
        augmentations.append(
            L(T.RandomFlip)(
                horizontal=inputs.RANDOM_FLIP == "horizontal",
                vertical=inputs.RANDOM_FLIP == "vertical",
            )
        )
    if inputs.CROP.ENABLED:
        crop = L(T.RandomCrop)(crop_type=inputs.CROP.TYPE, crop_size=list(inputs.CROP.SIZE))
        augmentations.insert(0, crop)
    extras = [L(parse_augmentation)(text=text) for text in inputs.EXTRA_AUGMENTATIONS]
    return augmentations + extras


def dataloader(cfg):
    """``train`` and ``test`` loaders and the ``evaluator`` of the first test dataset; the
    training batch is one part of ``SOLVER.IMS_PER_BATCH`` when gradients accumulate over
    ``SOLVER.ACCUMULATE_GRAD_STEPS`` (the sampler is seeded at training, by ``train.seed``)."""
    solver, inputs = cfg.SOLVER, cfg.INPUT
    use_instance_mask = cfg.MODEL.MASK_ON
    loaders = OmegaConf.create()
    loaders.train = L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(
            names=list(cfg.DATASETS.TRAIN),
            filter_empty=cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS,
        ),
        mapper=L(DatasetMapper)(
            is_train=True,
            augmentations=train_augmentations(cfg),
            image_format=inputs.FORMAT,
            use_instance_mask=use_instance_mask,
            instance_mask_format=inputs.MASK_FORMAT,
            recompute_boxes=inputs.CROP.ENABLED
            or bool(inputs.EXTRA_AUGMENTATIONS and use_instance_mask),
        ),
        total_batch_size=solver.IMS_PER_BATCH // solver.ACCUMULATE_GRAD_STEPS,
        aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
    )
    loaders.test = L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names=cfg.DATASETS.TEST[0], filter_empty=False),
        mapper=L(DatasetMapper)(
            is_train=False,
            augmentations=[
                L(T.ResizeShortestEdge)(
                    short_edge_length=inputs.MIN_SIZE_TEST, max_size=inputs.MAX_SIZE_TEST
                )
            ],
            image_format=inputs.FORMAT,
        ),
        num_workers=cfg.DATALOADER.NUM_WORKERS,
    )
    loaders.evaluator = L(build_evaluator)(
        dataset_name="${..test.dataset.names}",
        output_dir="${train.output_dir}/inference/${.dataset_name}",
        max_dets_per_image=cfg.TEST.DETECTIONS_PER_IMAGE,
    )
    return loaders
