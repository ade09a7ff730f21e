"""Data loaders and evaluators as seg_d2's Trainer builds them from ``DATASETS.*``,
``INPUT.*`` and ``DATALOADER.*``, for the Python configs."""

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


def dataloader(
    train,
    test,
    *,
    min_size_train,
    max_size_train,
    min_size_test,
    max_size_test,
    batch_size,
    num_workers,
    use_instance_mask,
    extra_augmentations=(),
    max_dets_per_image=100,
):
    """Training and test loaders for datasets ``train`` and ``test``: resized (a shortest
    edge chosen from ``min_size_train``) and flipped for training, resized for testing,
    as detectron2's default augmentation, then ``extra_augmentations``
    (``INPUT.EXTRA_AUGMENTATIONS``, with boxes recomputed from the masks after them);
    and the evaluator that fits ``test``."""
    loaders = OmegaConf.create()
    loaders.train = L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names=train),
        mapper=L(DatasetMapper)(
            is_train=True,
            augmentations=[
                L(T.ResizeShortestEdge)(
                    short_edge_length=min_size_train, max_size=max_size_train, sample_style="choice"
                ),
                L(T.RandomFlip)(horizontal=True, vertical=False),
                *extra_augmentations,
            ],
            image_format="BGR",
            use_instance_mask=use_instance_mask,
            instance_mask_format="bitmask",
            recompute_boxes=bool(extra_augmentations) and use_instance_mask,
        ),
        total_batch_size=batch_size,
        num_workers=num_workers,
    )
    loaders.test = L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names=test, filter_empty=False),
        mapper=L(DatasetMapper)(
            is_train=False,
            augmentations=[
                L(T.ResizeShortestEdge)(short_edge_length=min_size_test, max_size=max_size_test)
            ],
            image_format="${...train.mapper.image_format}",
        ),
        num_workers=num_workers,
    )
    loaders.evaluator = L(build_evaluator)(
        dataset_name="${..test.dataset.names}",
        output_dir="${train.output_dir}/inference/${.dataset_name}",
        max_dets_per_image=max_dets_per_image,
    )
    return loaders
