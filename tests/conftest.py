# seg_d2 first: its compat fixes must apply before any test module imports detectron2.
import seg_d2  # noqa: F401
