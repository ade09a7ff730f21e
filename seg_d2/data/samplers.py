"""Sampling for a resumed training run."""

import itertools

from detectron2.utils import comm
from torch.utils.data import Sampler

__all__ = ["ContinuedSampler", "continued"]


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


def continued(sampler, start_iter, images_per_iteration):
    """``sampler`` past the images iterations 0..start_iter-1 drew on this process
    (``images_per_iteration`` over all processes); ``sampler`` itself at iteration 0."""
    if start_iter <= 0:
        return sampler
    return ContinuedSampler(sampler, start_iter * images_per_iteration // comm.get_world_size())
