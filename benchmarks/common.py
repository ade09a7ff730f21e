"""What the benchmarks share: training and timing both systems of a comparison the
same way, and writing a Markdown table plus the raw runs as JSON under
benchmarks/results/, stamped with the machine, date and git commit."""

import ctypes
import datetime
import json
import os
import platform
import subprocess
import threading
import time

import seg_d2  # (first: fixes detectron2 0.6 before anything imports it)
from seg_d2.data.mapper import DatasetMapper
from seg_d2.engine import Trainer
from seg_d2.engine.train_loop import build_train_loop, prepare_model

import numpy as np
import torch
from detectron2.data import DatasetCatalog
from detectron2.engine import HookBase, hooks
from detectron2.solver import build_lr_scheduler
from detectron2.utils.env import seed_all_rng

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")

__all__ = [
    "BATCH_SIZES",
    "REPO",
    "RESULTS",
    "PeakMemory",
    "compare_on_test_split",
    "evaluate",
    "inference_ms_by_batch",
    "inference_ms_per_image",
    "load_test_inputs",
    "machine",
    "median",
    "nuclei_datasets",
    "run_alternating",
    "spread",
    "train_like_detectron2",
    "write_results",
]


def _cpu_model():
    """The CPU's model name with its family and model numbers, which tell apart CPUs that
    share a name (a virtual machine's "AMD EPYC" may be one generation or another)."""
    try:
        with open("/proc/cpuinfo") as f:
            fields = dict(
                (key.strip(), value.strip())
                for key, _, value in (
                    line.partition(":") for line in f.read().split("\n\n")[0].splitlines()
                )
            )
        return f"{fields['model name']} (family {fields['cpu family']}, model {fields['model']})"
    except (OSError, KeyError):
        return platform.processor() or "unknown CPU"


def nuclei_datasets(folder):
    """The override that registers the README's nuclei as its commands convert them into
    ``folder`` (nuclei_train.json, nuclei_val.json, stage1_train/), wherever that is."""
    images = os.path.join(folder, "stage1_train")
    datasets = [
        f"nuclei_{split}={os.path.join(folder, f'nuclei_{split}.json')}:{images}"
        for split in ("train", "val")
    ]
    return ["DATASETS.COCO_FORMAT", repr(datasets)]


def machine():
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    return {
        "cpu": _cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip() or "unknown",
    }


def write_results(name, title, note, table, data):
    """Write ``RESULTS/name.md`` and ``RESULTS/name.json``; return the Markdown path."""
    stamp = machine()
    stamp_line = ", ".join(f"{key}: {value}" for key, value in stamp.items())
    os.makedirs(RESULTS, exist_ok=True)
    markdown = os.path.join(RESULTS, f"{name}.md")
    with open(markdown, "w") as f:
        f.write(f"# {title}\n\n{note}\n\nMachine: {stamp_line}\n\n{table}\n")
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump({"machine": stamp, **data}, f, indent=2)
    print(f"written: {markdown}")
    return markdown


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _heap_in_use_bytes():
    """Bytes malloc has handed out and not taken back (all arenas, mmapped blocks
    included): unlike the resident set, it falls again when memory is freed, so a run
    is not charged for pages an earlier run left cached."""
    info = _LIBC.mallinfo2()
    return info.uordblks + info.hblkhd


_LIBC = ctypes.CDLL(None)
_LIBC.mallinfo2.restype = _MallInfo2


class PeakMemory:
    """Peak memory growth while the block runs, in MiB: the CUDA allocator's peak on a
    GPU; on CPU the peak of glibc's in-use heap (where torch's CPU tensors live),
    sampled every 5 ms, less its value at the start. Data loader workers are other
    processes and are not counted."""

    def __init__(self, device):
        self._cuda = torch.device(device).type == "cuda"
        self.mebibytes = float("nan")

    def _sample(self):
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _heap_in_use_bytes())

    def __enter__(self):
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            self._base = self._peak = _heap_in_use_bytes()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            peak = self._peak
        self.mebibytes = (peak - self._base) / 2**20


class _StepTimes(HookBase):
    def __init__(self, device):
        self._cuda = torch.device(device).type == "cuda"
        self.seconds = []

    def _now(self):
        if self._cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def before_step(self):
        self._start = self._now()

    def after_step(self):
        self.seconds.append(self._now() - self._start)


def train_like_detectron2(system, build, cfg, seed, warmup_steps=5):
    """Build ``system`` with ``build(cfg)`` (any module that takes detectron2's batched
    inputs and returns a loss dict) after seeding every RNG with ``seed``, and train it
    as train_net.py would: its data loader (the config's INPUT.EXTRA_AUGMENTATIONS
    included), detectron2's LR schedule, the config's optimizer, memory format
    (MODEL.CHANNELS_LAST) and step (SOLVER.AMP.ENABLED: bfloat16 autocast on a CPU), so
    that every system gets the same speed options. Returns the model (in eval mode) and
    a result with its size, iterations/s (from the median step, data wait included,
    after ``warmup_steps``) and the peak memory growth."""
    cfg = cfg.clone()
    cfg.SEED = seed
    seed_all_rng(seed)
    model = prepare_model(
        build(cfg), device=cfg.MODEL.DEVICE, channels_last=cfg.MODEL.CHANNELS_LAST
    )
    model.train()
    optimizer = Trainer.build_optimizer(cfg, model)
    trainer = build_train_loop(
        model,
        Trainer.build_train_loader(cfg),
        optimizer,
        device=cfg.MODEL.DEVICE,
        amp=cfg.SOLVER.AMP.ENABLED,
        accumulate_steps=cfg.SOLVER.ACCUMULATE_GRAD_STEPS,
    )
    step_times = _StepTimes(cfg.MODEL.DEVICE)
    trainer.register_hooks(
        [hooks.LRScheduler(optimizer, build_lr_scheduler(cfg, optimizer)), step_times]
    )
    with PeakMemory(cfg.MODEL.DEVICE) as memory:
        trainer.train(0, cfg.SOLVER.MAX_ITER)
    steps = step_times.seconds[warmup_steps:] or step_times.seconds
    model.eval()
    return model, {
        "system": system,
        "seed": seed,
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "train_iters_per_s": 1.0 / float(np.median(steps)),
        "peak_train_memory_MiB": memory.mebibytes,
    }


def load_test_inputs(cfg, dataset_name, limit=None):
    """The test split mapped as detectron2's test loader would, held in memory so that
    inference timings leave out reading and decoding."""
    mapper = DatasetMapper(cfg, is_train=False)
    records = DatasetCatalog.get(dataset_name)[:limit]
    return [mapper(record) for record in records]


# The batch sizes whose best the inference timings report.
BATCH_SIZES = (1, 2, 4, 8)


@torch.no_grad()
def inference_ms_per_image(model, inputs, batch_size, device, repeats=3):
    """Median over ``repeats`` passes of milliseconds per image at ``batch_size``."""
    model.eval()
    model(inputs[:batch_size])  # warm-up: first-call allocations and lazy initialisation
    passes = []
    for _ in range(repeats):
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for begin in range(0, len(inputs), batch_size):
            model(inputs[begin : begin + batch_size])
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        passes.append((time.perf_counter() - start) * 1000 / len(inputs))
    return float(np.median(passes))


def inference_ms_by_batch(model, inputs, device, repeats=3):
    """Milliseconds per image at each of BATCH_SIZES, and the fastest batch size."""
    per_batch = {b: inference_ms_per_image(model, inputs, b, device, repeats) for b in BATCH_SIZES}
    return per_batch, min(per_batch, key=per_batch.get)


@torch.no_grad()
def evaluate(model, inputs, evaluator, batch_size=1):
    model.eval()
    evaluator.reset()
    for begin in range(0, len(inputs), batch_size):
        chunk = inputs[begin : begin + batch_size]
        evaluator.process(chunk, model(chunk))
    return evaluator.evaluate()


def run_alternating(systems, seeds, run):
    """``run(system, seed)`` for every system and seed, printing each result as it
    lands; within a seed the systems run in turn, reversed on odd seeds so that
    neither always runs first (a warmer machine, a grown allocator)."""
    runs = []
    for seed in seeds:
        order = list(systems) if seed % 2 == 0 else list(systems)[::-1]
        for system in order:
            runs.append(run(system, seed))
            print(json.dumps(runs[-1]), flush=True)
    return runs


def compare_on_test_split(config_file, overrides, systems, seeds, run, table):
    """The shape of a two-system comparison: load the config, hold its test split in
    memory, call ``run(system, cfg, seed, inputs)`` for every system and seed
    (``run_alternating``) and print ``table(runs)``; returns the runs and the table."""
    cfg = seg_d2.setup_config(config_file, overrides)
    inputs = load_test_inputs(cfg, cfg.DATASETS.TEST[0])
    runs = run_alternating(systems, seeds, lambda system, seed: run(system, cfg, seed, inputs))
    text = table(runs)
    print(text)
    return runs, text


def median(runs, system, key):
    return float(np.median([run[key] for run in runs if run["system"] == system]))


def spread(runs, system, key):
    """'mean ± half range' of ``key`` over the runs of ``system``."""
    values = np.array([run[key] for run in runs if run["system"] == system])
    return f"{values.mean():.1f} ± {(values.max() - values.min()) / 2:.1f}"
