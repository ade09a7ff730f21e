"""seg_d2: instance, semantic and panoptic segmentation as registered detectron2 components."""

try:
    import detectron2  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != "detectron2":
        raise
    raise ModuleNotFoundError(
        "seg_d2 needs detectron2, which PyPI does not carry: install it first (docs/install.md: "
        "`python tools/env/install_detectron2.py` from seg_d2's repository, or detectron2 built "
        "from source), then seg_d2",
        name="detectron2",
    ) from None

from . import (  # noqa: F401  (registers datasets and components)
    compat,  # noqa: F401  (first: fixes detectron2 0.6's gaps before anything imports it)
    data,
    modeling,
)
from .config import add_seg_d2_config, get_cfg
from .config_setup import load_config, setup_config
from .engine import Predictor
from .env import collect_env_info

__version__ = "0.1.0"

__all__ = [
    "Predictor",
    "add_seg_d2_config",
    "collect_env_info",
    "get_cfg",
    "load_config",
    "setup_config",
]
