"""How a COCO category list becomes detectron2's class spaces.

Things are the categories with ``isthing`` 1 (the default when the key is absent);
stuff are those with ``isthing`` 0, as in COCO panoptic. A dataset with no stuff
category gets one, "background", for the pixels no annotation covers. Semantic and
panoptic labels share one contiguous space: things first, then stuff, each in
dataset-id order; the instance dataset uses the things alone. PanopticFPN's semantic
branch uses detectron2's "separated" space instead: 0 for all things, then the stuff.
"""

from dataclasses import dataclass
from typing import Dict, List

import numpy as np

__all__ = ["ClassSpaces", "BACKGROUND", "thing_dataset_ids"]

BACKGROUND = "background"


def thing_dataset_ids(metadata):
    """Contiguous thing class -> dataset category id, the ids a COCO results file uses
    (empty for a dataset without things)."""
    contiguous = metadata.get("thing_dataset_id_to_contiguous_id", {})
    return {index: dataset_id for dataset_id, index in contiguous.items()}


@dataclass(frozen=True)
class ClassSpaces:
    thing_ids: List[int]
    stuff_ids: List[int]
    names: Dict[int, str]
    # True when the background stuff class was added for uncovered pixels.
    has_implicit_background: bool

    @classmethod
    def from_coco_categories(cls, categories):
        names = {c["id"]: c["name"] for c in categories}
        thing_ids = sorted(c["id"] for c in categories if c.get("isthing", 1))
        stuff_ids = sorted(c["id"] for c in categories if not c.get("isthing", 1))
        implicit = not stuff_ids
        if implicit:
            background_id = max(names, default=0) + 1
            names[background_id] = BACKGROUND
            stuff_ids = [background_id]
        return cls(thing_ids, stuff_ids, names, implicit)

    @property
    def thing_classes(self):
        return [self.names[i] for i in self.thing_ids]

    @property
    def all_ids(self):
        return self.thing_ids + self.stuff_ids

    @property
    def all_classes(self):
        return [self.names[i] for i in self.all_ids]

    @property
    def contiguous_id(self):
        """Dataset category id -> index in the shared thing+stuff label space."""
        return {dataset_id: index for index, dataset_id in enumerate(self.all_ids)}

    @property
    def background_id(self):
        return self.stuff_ids[0] if self.has_implicit_background else None

    def coco_categories(self):
        """The categories as COCO panoptic lists them, background included."""
        things = set(self.thing_ids)
        return [{"id": i, "name": self.names[i], "isthing": int(i in things)} for i in self.all_ids]

    def instance_metadata(self):
        return {
            "thing_classes": self.thing_classes,
            "thing_dataset_id_to_contiguous_id": {i: k for k, i in enumerate(self.thing_ids)},
        }

    def semantic_metadata(self):
        return {"stuff_classes": self.all_classes, "ignore_label": 255}

    def panoptic_metadata(self):
        return {
            **self.instance_metadata(),
            "stuff_classes": self.all_classes,
            "stuff_dataset_id_to_contiguous_id": self.contiguous_id,
        }

    def stuff_only_label_table(self):
        """Lookup table from shared labels to the separated space (things -> 0, j-th
        stuff -> 1 + j); 255 and unused values map to 255."""
        table = np.full(256, 255, dtype=np.uint8)
        table[: len(self.thing_ids)] = 0
        table[len(self.thing_ids) : len(self.all_ids)] = np.arange(1, len(self.stuff_ids) + 1)
        return table

    def separated_metadata(self):
        """Metadata of detectron2's ``*_panoptic_separated`` datasets, for PanopticFPN.
        As there, label 0 ("things") maps to dataset id 0 (or, if a category uses 0, to
        an unused id): SemSegEvaluator needs every label in the map."""
        things_id = 0 if 0 not in self.names else max(self.names) + 1
        return {
            **self.instance_metadata(),
            "stuff_classes": ["things"] + [self.names[i] for i in self.stuff_ids],
            "stuff_dataset_id_to_contiguous_id": {
                things_id: 0,
                **{i: k + 1 for k, i in enumerate(self.stuff_ids)},
            },
        }
