"""What validation found in a dataset, kept between processes: a COCO-size JSON takes
a minute to validate, and every process that registers it (one per GPU, each evaluation,
each tool) would validate it again.

Kept in the user's cache folder (``$SEG_D2_CACHE_DIR/validated``, default
``~/.cache/seg_d2/validated``), never beside the dataset, whose files are not trusted to
vouch for themselves. A dataset is looked up by the sha256 of its JSON, the real path of its
image folder with the modification time of that folder's listing, and the validation
version: a changed JSON, or image files added, removed or renamed in the folder, validate
again. Only datasets without errors are kept, with the annotations validation skipped.
"""

import hashlib
import json
import logging
import os

from ..atomic_files import write_text_atomically
from ..env import cache_folder
from .dense_ground_truth import CACHE_DIR_VARIABLE, file_digest

__all__ = ["cached_skips", "keep_skips"]

logger = logging.getLogger(__name__)

# Bump when validation changes what it accepts or skips.
VALIDATION_VERSION = "1"


def _entry(json_file, image_root):
    root = os.path.realpath(image_root)
    key = "\0".join(
        (VALIDATION_VERSION, file_digest(json_file), root, str(os.stat(root).st_mtime_ns))
    )
    folder = os.environ.get(CACHE_DIR_VARIABLE)
    folder = os.path.join(folder, "validated") if folder else cache_folder("validated")
    return os.path.join(folder, hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest())


def cached_skips(json_file, image_root):
    """{annotation id: why skipped} of an earlier validation without errors of this
    dataset as it is now, or None."""
    try:
        with open(_entry(json_file, image_root), encoding="utf-8") as f:
            skipped = json.load(f)
    except (OSError, ValueError):
        return None
    if not (isinstance(skipped, list) and all(_is_skip(item) for item in skipped)):
        return None  # not written by keep_skips: validate again
    return {annotation_id: reason for annotation_id, reason in skipped}


def _is_skip(item):
    return (
        isinstance(item, list)
        and len(item) == 2
        and type(item[0]) is int
        and isinstance(item[1], str)
    )


def keep_skips(json_file, image_root, skipped):
    """Record that the dataset validated without errors, skipping ``skipped``; a cache
    that cannot be written is a note in the log, not a failure."""
    try:
        path = _entry(json_file, image_root)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_text_atomically(path, json.dumps(sorted(skipped.items())))
    except OSError as error:
        logger.info("validation of %s not cached: %s", json_file, error)
