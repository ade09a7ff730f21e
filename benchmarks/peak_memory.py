"""Peak memory of a block of code, on a GPU or on the CPU (glibc's heap, read with
mallinfo2 through ctypes)."""

import ctypes
import threading

import torch

__all__ = ["PeakMemory"]


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
