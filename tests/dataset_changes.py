"""Changes to a COCO dataset dict, made before it is written, for the tests of what a
malformed or odd dataset gets: each a function of the dataset that changes it in place and
returns it."""


def _parent(dataset, path):
    node = dataset
    for key in path[:-1]:
        node = node[key]
    return node


def set_at(path, value):
    """Set the item at ``path`` (keys and indices) to ``value``."""

    def change(dataset):
        _parent(dataset, path)[path[-1]] = value
        return dataset

    return change


def remove_at(path):
    """Remove the item at ``path``."""

    def change(dataset):
        del _parent(dataset, path)[path[-1]]
        return dataset

    return change
