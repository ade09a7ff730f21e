"""A resumed run's sampler: the stream an uninterrupted run would have gone on with."""

import itertools

from seg_d2.data import samplers
from seg_d2.data.samplers import continued

from detectron2.data.samplers import TrainingSampler


def _first(sampler, count):
    return list(itertools.islice(iter(sampler), count))


def test_a_continued_stream_skips_what_earlier_iterations_drew():
    sampler = TrainingSampler(10, seed=0)
    assert continued(sampler, 0, 4) is sampler
    assert _first(continued(sampler, 3, 4), 18) == _first(sampler, 30)[12:]


def test_each_process_skips_its_share_of_the_images_drawn(monkeypatch):
    monkeypatch.setattr(samplers.comm, "get_world_size", lambda: 2)
    assert continued(TrainingSampler(10, seed=0), 3, 4).start == 6
