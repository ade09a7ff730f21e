"""Sampling for a resumed training run."""

import itertools

from torch.utils.data import Sampler

__all__ = ["ContinuedSampler"]


class ContinuedSampler(Sampler):
    """An infinite training sampler's stream from its ``start``-th index on.

    detectron2's training samplers draw a seeded, endless stream and restart it on
    every run, so a run resumed at iteration k would see the first batches again;
    skipping what iterations 0..k-1 drew gives it the batches an uninterrupted run
    sees from iteration k on."""

    def __init__(self, sampler, start):
        self.sampler = sampler
        self.start = start

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.start, None)
