# seg_d2 first: its compat fixes must apply before any test module imports detectron2.
import seg_d2  # noqa: F401


def unregister(name):
    """Remove a dataset registered with seg_d2.data.register_coco_dataset, all three variants."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    for suffix in ("", "_sem_seg", "_panoptic"):
        DatasetCatalog.remove(name + suffix)
        MetadataCatalog.remove(name + suffix)
