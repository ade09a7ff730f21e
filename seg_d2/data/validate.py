"""Check a COCO-format dataset before training, and say exactly what is wrong where.

Errors stop: every message names the JSON file and the image id / annotation id
at fault. Annotations that are well-formed but unusable (a polygon of fewer than
3 points, a mask of zero area) are skipped by policy: counted, logged, and
reported, never dropped silently.

    seg-d2 validate path/to/instances.json path/to/images [--decode]
    (or python -m seg_d2.data.validate ...)
"""

import argparse
import gc
import json
import logging
import math
import os
import sys
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Dict, List

import faster_coco_eval.core.mask as checked_mask
import numpy as np
import orjson
from PIL import Image
from pycocotools import mask as mask_util
from tabulate import tabulate

from ..cli import exit_status, run_command
from ..errors import DatasetError
from .dense_ground_truth import usable_processes
from .image_io import ImageReadError, read_image, relative_image_path
from .masks import polygon_areas, segmentation_to_rle, usable_polygons

__all__ = [
    "DatasetError",
    "ValidationReport",
    "cyclic_gc_paused",
    "displayed_size",
    "listed_problems",
    "validate_coco_dataset",
    "read_coco_json",
    "well_formed_categories",
    "well_formed_sections",
]

logger = logging.getLogger(__name__)

# Rounding in annotation tools puts boxes up to a pixel past the border.
_BOX_TOLERANCE = 1.0
_MAX_ERRORS_SHOWN = 20
# More missing image files than this are told as one error: the image folder is wrong.
_MISSING_LISTED = 5


def listed_problems(errors, where):
    """One message listing the first errors, one per line, and how many more there are."""
    shown = "\n  ".join(errors[:_MAX_ERRORS_SHOWN])
    more = len(errors) - _MAX_ERRORS_SHOWN
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return f"{len(errors)} problem(s) {where}:\n  {shown}{tail}"


@dataclass
class ValidationReport:
    json_file: str
    num_images: int = 0
    instances_per_class: Counter = field(default_factory=Counter)
    stuff_regions_per_class: Counter = field(default_factory=Counter)
    num_crowd: int = 0
    mask_areas: List[float] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    # annotation id -> why it is skipped
    skipped: Dict[int, str] = field(default_factory=dict)

    def error(self, message):
        self.errors.append(f"{self.json_file}: {message}")

    def skip(self, annotation, reason):
        self.skipped[annotation["id"]] = reason

    def raise_if_errors(self):
        if self.errors:
            raise DatasetError(listed_problems(self.errors, "in the dataset"))

    def log_skips(self):
        if self.skipped:
            reasons = Counter(self.skipped.values())
            logger.warning(
                "%s: skipping %d unusable annotation(s) (%s); ids: %s",
                self.json_file,
                len(self.skipped),
                ", ".join(f"{n} {r}" for r, n in reasons.items()),
                sorted(self.skipped)[:20],
            )

    def summary(self):
        areas = np.asarray(self.mask_areas or [0.0])
        quantiles = np.quantile(areas, [0.0, 0.25, 0.5, 0.75, 1.0])
        rows = [("images", self.num_images)]
        rows += [(f"instances: {name}", n) for name, n in sorted(self.instances_per_class.items())]
        rows += [
            (f"stuff regions: {name}", n)
            for name, n in sorted(self.stuff_regions_per_class.items())
        ]
        rows += [
            ("crowd regions", self.num_crowd),
            ("mask area min/25%/50%/75%/max", " / ".join(f"{q:.0f}" for q in quantiles)),
            ("skipped annotations", len(self.skipped)),
            ("errors", len(self.errors)),
        ]
        return tabulate(rows, headers=["", self.json_file], tablefmt="github")


@contextmanager
def cyclic_gc_paused():
    """Python's cyclic garbage collector paused while millions of dicts and lists are built
    (a COCO-size JSON parsed, checked, turned into records): none of them is in a cycle,
    and each collection would walk everything built so far, a third of the time spent."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_coco_json(json_file):
    """The parsed JSON, by orjson (twice the json module's speed: COCO's file parses in
    seconds less); by the json module where orjson refuses what it accepts (NaN, lone
    surrogates), so that validation, not the parser, names such values. Integers past 64
    bits, which no COCO id or size needs, are floats (orjson's reading), named by validation
    as not integers."""
    try:
        with open(json_file, "rb") as f:
            text = f.read()
    except OSError as e:
        raise DatasetError(f"{json_file}: cannot read the COCO JSON: {e}") from None
    try:
        with cyclic_gc_paused():
            return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{json_file}: cannot read the COCO JSON: {e}") from None


def displayed_size(path):
    """(width, height) as detectron2's read_image returns the image: EXIF-rotated."""
    with Image.open(path) as image:
        transposed = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        width, height = image.size
    return (height, width) if transposed else (width, height)


def _fully_decodes(path):
    """Decode every pixel as training reads them, values seg_d2 refuses included."""
    try:
        read_image(path, format="RGB")
    except ImageReadError as error:
        raise error.__cause__ from None


# Work per job: a COCO-size dataset's image files are read, and its polygons rasterised,
# in as many processes as this one may use.
_IMAGES_PER_JOB = 1000
_ANNOTATIONS_PER_JOB = 20_000


def _read_images(image_root, file_names, decode):
    """For each file name: None when the file is missing, else its displayed (width,
    height), or why it cannot be decoded."""
    results = []
    for file_name in file_names:
        path = os.path.join(image_root, file_name)
        if not os.path.isfile(path):
            results.append(None)
            continue
        try:
            read = displayed_size(path)
            if decode:
                _fully_decodes(path)
        except Exception as e:  # PIL raises many types for broken files
            read = f"{type(e).__name__}: {e}"
        results.append(read)
    return results


@contextmanager
def _pool(jobs):
    """A pool of processes for ``jobs`` jobs (as many as this process may use, one per job
    at most), or None where this process alone would do."""
    processes = min(usable_processes(), jobs)
    if processes < 2:
        yield None
        return
    with ProcessPoolExecutor(processes) as pool:
        yield pool


def _submitted(pool, function, jobs):
    """A callable giving ``function``'s results for each of ``jobs`` (argument tuples),
    concatenated: computed by ``pool`` meanwhile, or here when called where there is none."""
    if pool is None:
        return lambda: [result for job in jobs for result in function(*job)]
    futures = [pool.submit(function, *job) for job in jobs]
    return lambda: [result for future in futures for result in future.result()]


def _polygon_jobs(checked):
    """The polygon annotations of ``checked`` (``_check_annotation``'s results after each
    annotation) as jobs for ``_polygon_job_areas``, by image size, with the indices into
    ``checked`` of their annotations in job order. A job's coordinates are one array: sent
    to another process in a copy, where lists of floats would be rebuilt one by one."""
    by_size = defaultdict(list)
    for index, (_, image, _, segmentation) in enumerate(checked):
        if isinstance(segmentation, list):
            by_size[image["height"], image["width"]].append(index)
    jobs, order = [], []
    for (height, width), indices in by_size.items():
        for start in range(0, len(indices), _ANNOTATIONS_PER_JOB):
            part = indices[start : start + _ANNOTATIONS_PER_JOB]
            polygon_lists = [checked[i][3] for i in part]
            polygons = [polygon for polygon_list in polygon_lists for polygon in polygon_list]
            coordinates = np.fromiter(
                chain.from_iterable(polygons), np.float64, sum(map(len, polygons))
            )
            lengths = ([len(p) for p in polygons], [len(pl) for pl in polygon_lists])
            jobs.append((coordinates, *lengths, height, width))
            order += part
    return jobs, order


def _polygon_job_areas(coordinates, polygon_lengths, list_lengths, height, width):
    """``polygon_areas`` of a job of ``_polygon_jobs``."""
    polygons = np.split(coordinates, np.cumsum(polygon_lengths)[:-1])
    ends = np.cumsum(list_lengths)
    polygon_lists = [polygons[end - n : end] for n, end in zip(list_lengths, ends)]
    return polygon_areas(polygon_lists, height, width)


def _check_image(report, image, image_root, read):
    """Report what ``read`` (``_read_images``' result) says is wrong with the image file;
    False when it is missing (reported by the caller)."""
    where = _image_where(image)
    path = os.path.join(image_root, image["file_name"])
    if read is None:
        return False
    if isinstance(read, str):
        report.error(f"{where}: image file {path} cannot be decoded ({read})")
    elif read != (image.get("width"), image.get("height")):
        report.error(
            f"{where}: the JSON says {image.get('width')}x{image.get('height')} "
            f"but {path} is {read[0]}x{read[1]}"
        )
    return True


def _measurable_segmentation(report, annotation, image, where):
    """What of the segmentation to measure (its polygons of 3 or more points, or its RLE),
    or None after reporting an RLE of another size or with counts that do not cover it
    exactly (errors), or polygons of fewer than 3 points (a skip)."""
    segm = annotation.get("segmentation")
    height, width = image["height"], image["width"]
    if isinstance(segm, list):
        polygons = usable_polygons(segm)
        if not polygons:
            report.skip(annotation, "polygon with fewer than 3 points")
            return None
        return polygons
    if list(segm["size"]) != [height, width]:
        report.error(
            f"{where}: RLE size {segm['size']} differs from the image's [{height}, {width}]"
        )
        return None
    counts = segm["counts"]
    if isinstance(counts, list) and sum(counts) != height * width:
        report.error(f"{where}: RLE counts cover {sum(counts)} pixels, not {height}*{width}")
        return None
    if not isinstance(counts, list):
        try:  # faster-coco-eval's decoder checks that the counts cover the mask exactly
            checked_mask.decode({"size": segm["size"], "counts": counts})
        except (ValueError, RuntimeError) as error:
            report.error(f"{where}: RLE counts cannot be decoded ({error})")
            return None
    return segm


def _check_annotation(report, annotation, images, categories):
    """(its image, its category, what of its segmentation to measure) when the
    annotation's references, box and segmentation hold, else None after reporting an error
    or a skip."""
    where = _annotation_where(annotation)
    image = images.get(annotation.get("image_id"))
    if image is None:
        report.error(f"{where}: its image id is not among the images")
        return None
    category = categories.get(annotation.get("category_id"))
    if category is None:
        report.error(f"{where}: category id {annotation.get('category_id')} is not in 'categories'")
        return None
    bbox = annotation["bbox"]
    x, y, w, h = bbox
    if (
        x < -_BOX_TOLERANCE
        or y < -_BOX_TOLERANCE
        or (x + w > image["width"] + _BOX_TOLERANCE or y + h > image["height"] + _BOX_TOLERANCE)
    ):
        report.error(
            f"{where}: bbox {bbox} lies outside the {image['width']}x{image['height']} image"
        )
        return None
    segmentation = _measurable_segmentation(report, annotation, image, where)
    if segmentation is None:
        return None
    return image, category, segmentation


def _count_measured(report, checked, polygon_areas_by_index):
    """Skip the checked annotations of zero area; count the others. RLE masks are
    measured here, polygons before (``polygon_areas_by_index``)."""
    for index, (annotation, image, category, segmentation) in enumerate(checked):
        area = polygon_areas_by_index.get(index)
        if area is None:
            rle = segmentation_to_rle(segmentation, image["height"], image["width"])
            area = float(mask_util.area(rle))
        if area == 0:
            report.skip(annotation, "mask of zero area")
            continue
        report.mask_areas.append(area)
        if annotation.get("iscrowd", 0):
            report.num_crowd += 1
        elif category.get("isthing", 1):
            report.instances_per_class[category["name"]] += 1
        else:
            report.stuff_regions_per_class[category["name"]] += 1


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_JSON_NUMBER_TYPES = {int, float}


def _finite_numbers(values):
    """``all(map(_is_number, values))``, for the usual case (JSON's ints and floats, their
    sum finite) by the set of their types and one sum: a COCO-size JSON holds tens of
    millions of polygon coordinates."""
    if set(map(type, values)) <= _JSON_NUMBER_TYPES and math.isfinite(sum(values)):
        return True
    return all(map(_is_number, values))


def _id_problem(item, key="id"):
    if key not in item:
        return f"'{key}' is missing"
    if not _is_int(item[key]):
        return f"'{key}' must be an integer, not {item[key]!r}"
    return None


def _image_problems(image):
    problems = [problem for problem in (_id_problem(image),) if problem]
    try:
        relative_image_path(image.get("file_name"))
    except ValueError as error:
        problems.append(str(error))
    for key in ("width", "height"):
        if not (_is_int(image.get(key)) and image[key] > 0):
            problems.append(f"'{key}' must be a positive integer, not {image.get(key)!r}")
    return problems


def _category_problems(category):
    problems = [problem for problem in (_id_problem(category),) if problem]
    if not (isinstance(category.get("name"), str) and category["name"]):
        problems.append(f"'name' must be a non-empty string, not {category.get('name')!r}")
    if category.get("isthing", 1) not in (0, 1):
        problems.append(f"'isthing' must be 0 or 1, not {category['isthing']!r}")
    return problems


def _segmentation_problems(segm):
    if isinstance(segm, list):
        if any(not isinstance(polygon, list) for polygon in segm):
            return [
                "'segmentation' must be a list of polygons, each a list [x1, y1, x2, y2, ...] "
                "(a flat list of numbers is one polygon too few brackets)"
            ]
        problems = []
        for index, polygon in enumerate(segm):
            if not _finite_numbers(polygon):
                problems.append(f"polygon coordinates must be finite numbers (polygon {index})")
            elif len(polygon) % 2:
                problems.append(
                    f"polygon {index} has an odd number of coordinates ({len(polygon)}), "
                    "not (x, y) pairs"
                )
        return problems
    if isinstance(segm, dict):
        size, counts = segm.get("size"), segm.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and all(map(_is_int, size))):
            return [f"RLE 'size' must be [height, width], not {size!r}"]
        if isinstance(counts, list):
            if not all(_is_int(c) and c >= 0 for c in counts):
                return ["RLE 'counts' must be non-negative integers"]
        elif not isinstance(counts, str):
            return [f"RLE 'counts' must be a list of integers or a string, not {counts!r}"]
        return []
    return ["no segmentation (polygon list or RLE) given"]


def _annotation_problems(annotation):
    problems = [problem for key in _ANNOTATION_IDS if (problem := _id_problem(annotation, key))]
    bbox = annotation.get("bbox")
    if bbox is None:
        problems.append("'bbox' is missing (detectron2 trains on [x, y, width, height] boxes)")
    elif not (isinstance(bbox, list) and len(bbox) == 4 and _finite_numbers(bbox)):
        problems.append(f"bbox {bbox!r} is not 4 finite numbers")
    elif bbox[2] < 0 or bbox[3] < 0:
        problems.append(f"bbox {bbox} has a negative width or height")
    if annotation.get("iscrowd", 0) not in (0, 1):
        problems.append(f"'iscrowd' must be 0 or 1, not {annotation['iscrowd']!r}")
    if "area" in annotation and not (_is_number(annotation["area"]) and annotation["area"] >= 0):
        problems.append(f"'area' must be a number of pixels, not {annotation['area']!r}")
    return problems + _segmentation_problems(annotation.get("segmentation"))


_ANNOTATION_IDS = ("id", "image_id", "category_id")

# Section of the JSON -> (what its items are called, their problems).
_SECTIONS = {
    "images": ("image", _image_problems),
    "annotations": ("annotation", _annotation_problems),
    "categories": ("category", _category_problems),
}


def _image_where(image):
    return f"image id {image['id']} ({image.get('file_name')!r})"


def _annotation_where(annotation):
    return f"annotation id {annotation['id']} of image id {annotation.get('image_id')}"


def _describe(kind, index, item):
    """Where an item of the JSON is: by its id, or, without one, by its place in the list."""
    if not _is_int(item.get("id")):
        return f"{kind} #{index} of the list"
    if kind == "image":
        return _image_where(item)
    if kind == "annotation":
        return _annotation_where(item)
    return f"{kind} id {item['id']}"


def well_formed_sections(report, dataset, sections=("images", "annotations", "categories")):
    """The items of each of ``sections`` that have every field seg_d2 reads, of the right
    type; each problem of the others is a located error in ``report``. None when the
    JSON's shape itself is wrong."""
    if not isinstance(dataset, dict):
        report.error(
            f"the top level must be a JSON object with 'images', 'annotations' and 'categories', "
            f"not a {type(dataset).__name__}"
        )
        return None
    if "categories" in sections and "categories" not in dataset:
        report.error("'categories' is missing: list the classes as [{'id': 1, 'name': ...}]")
        return None
    kept = []
    for section in sections:
        items = dataset.get(section, [])
        if not isinstance(items, list):
            report.error(f"'{section}' must be a list, not a {type(items).__name__}")
            return None
        kind, problems_of = _SECTIONS[section]
        well_formed = []
        for index, item in enumerate(items):
            problems = problems_of(item) if isinstance(item, dict) else ["is not a JSON object"]
            for problem in problems:
                report.error(
                    f"{_describe(kind, index, item if isinstance(item, dict) else {})}: {problem}"
                )
            if not problems:
                well_formed.append(item)
        kept.append(well_formed)
    return kept


def well_formed_categories(json_file, dataset):
    """The dataset's category list, or a DatasetError naming each malformed category."""
    report = ValidationReport(str(json_file))
    sections = well_formed_sections(report, dataset, ("categories",))
    report.raise_if_errors()
    return sections[0]


def _duplicates(items):
    counts = Counter(item.get("id") for item in items)
    return sorted((i for i, n in counts.items() if n > 1), key=str)


def validate_coco_dataset(json_file, image_root, *, decode_images=False, dataset=None):
    """Check a COCO instances JSON and its images; return a ValidationReport.

    ``dataset`` is the parsed JSON when the caller already has it. Image files are
    opened for their size; ``decode_images`` also decodes every pixel (slower).
    """
    with cyclic_gc_paused():
        return _validated(json_file, image_root, decode_images, dataset)


def _validated(json_file, image_root, decode_images, dataset):
    report = ValidationReport(str(json_file))
    dataset = read_coco_json(json_file) if dataset is None else dataset
    sections = well_formed_sections(report, dataset)
    if sections is None:
        return report
    images_list, annotations, categories_list = sections
    report.num_images = len(dataset["images"])
    if not dataset["images"]:
        report.error("the dataset is empty: 'images' lists no image")
        return report
    if not annotations and not report.errors:
        # A COCO file without instances is an image list (for tools/predict.py), not a dataset.
        report.error("'annotations' is empty: there is no instance to train or evaluate on")
    for kind, items in (
        ("image", images_list),
        ("annotation", annotations),
        ("category", categories_list),
    ):
        for duplicate in _duplicates(items):
            report.error(f"{kind} id {duplicate} appears more than once")
    images = {image["id"]: image for image in images_list}
    categories = {c["id"]: c for c in categories_list}
    file_names = [image["file_name"] for image in images_list]
    image_jobs = [
        (image_root, file_names[start : start + _IMAGES_PER_JOB], decode_images)
        for start in range(0, len(file_names), _IMAGES_PER_JOB)
    ]
    first_annotation_error = len(report.errors)
    with _pool(len(image_jobs) + len(annotations) // _ANNOTATIONS_PER_JOB) as pool:
        images_read = _submitted(pool, _read_images, image_jobs)
        checked = []
        for annotation in annotations:
            found = _check_annotation(report, annotation, images, categories)
            if found is not None:
                checked.append((annotation, *found))
        polygon_jobs, order = _polygon_jobs(checked)
        areas = dict(zip(order, _submitted(pool, _polygon_job_areas, polygon_jobs)()))
        _count_measured(report, checked, areas)
        reads = images_read()
    image_report = ValidationReport(report.json_file)
    missing = [
        image
        for image, read in zip(images_list, reads)
        if not _check_image(image_report, image, image_root, read)
    ]
    if len(missing) > _MISSING_LISTED:  # a wrong image folder, rather than lost files
        image_report.error(
            f"{len(missing)} of {len(images_list)} image files are missing under {image_root} "
            f"(the first: {missing[0]['file_name']!r}): is it the image folder of this JSON?"
        )
    else:
        for image in missing:
            path = os.path.join(image_root, image["file_name"])
            image_report.error(f"{_image_where(image)}: image file {path} is missing")
    # image errors first, as the JSON lists images first
    report.errors[first_annotation_error:first_annotation_error] = image_report.errors
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="seg-d2 validate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("json_file")
    parser.add_argument("image_root")
    parser.add_argument("--decode", action="store_true", help="decode every image fully")
    args = parser.parse_args(argv)
    try:
        report = validate_coco_dataset(args.json_file, args.image_root, decode_images=args.decode)
    except DatasetError as e:
        print(e, file=sys.stderr)
        return 1
    print(report.summary())
    for message in report.errors:
        print("error:", message)
    for annotation_id, reason in sorted(report.skipped.items()):
        print(f"skipped: annotation id {annotation_id}: {reason}")
    return 1 if report.errors else 0


def run(argv=None):
    """``main`` as a command: a bad input ends it with one message, exit status 1."""
    return exit_status(run_command(main, argv))


if __name__ == "__main__":
    sys.exit(run())
