"""seg-d2 predict on a video: an annotated video of every frame and the instances of each
frame as COCO results, with the frame number as image id."""

import json
import os

from seg_d2.cli import main

import cv2
import numpy as np
import pytest
from helpers import MASK_RCNN, REPO

BACKGROUND_BGR = (220, 60, 30)  # blue: its channels tell BGR from RGB


def _video(path, frames=5):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (96, 64))
    for index in range(frames):
        frame = np.full((64, 96, 3), BACKGROUND_BGR, np.uint8)
        cv2.circle(frame, (20 + 10 * index, 32), 12, (30, 200, 220), -1)
        writer.write(frame)
    writer.release()


def test_a_video_gives_an_annotated_video_and_per_frame_results(tmp_path, capsys):
    _video(tmp_path / "clip.mp4")
    (tmp_path / "out" / "videos").mkdir(parents=True)  # a folder from an earlier run
    status = main(
        ["predict", "--config-file", os.path.join(REPO, MASK_RCNN)]
        + ["--input", str(tmp_path / "clip.mp4"), "--output", str(tmp_path / "out")]
        + ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"]
        + ["INPUT.MIN_SIZE_TEST", "64", "TEST.DETECTIONS_PER_IMAGE", "3"]
    )
    assert status == 0
    printed = capsys.readouterr()
    assert "5 frame(s) of" in printed.out
    # tqdm's progress: the video's name, out of its frame count, in frames
    assert "clip.mp4: 100%" in printed.err and "5/5" in printed.err
    assert "frame/s" in printed.err
    annotated = cv2.VideoCapture(str(tmp_path / "out" / "videos" / "clip.mp4.mp4"))
    frames = []
    while True:
        read, frame = annotated.read()
        if not read:
            break
        frames.append(frame)
    assert len(frames) == 5 and frames[0].shape == (64, 96, 3)
    # the frames drawn in their own colours (most of each is background)
    background = np.median(frames[0].reshape(-1, 3), axis=0)
    assert np.abs(background - BACKGROUND_BGR).max() < 40, background
    results = json.loads((tmp_path / "out" / "videos" / "clip.mp4.json").read_text())
    assert results["frames"] == 5 and results["fps"] == 5.0
    assert {r["image_id"] for r in results["instances"]} == {1, 2, 3, 4, 5}
    assert sorted(os.listdir(tmp_path / "out" / "videos")) == ["clip.mp4.json", "clip.mp4.mp4"]


def test_a_file_that_is_no_video_is_named(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(SystemExit, match=r"error: cannot read video '.*broken\.mp4'"):
        main(
            ["predict", "--config-file", os.path.join(REPO, MASK_RCNN)]
            + ["--input", str(tmp_path / "broken.mp4"), "--output", str(tmp_path / "out")]
            + ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu"]
        )


def test_a_failure_mid_video_leaves_no_partial_file(tmp_path, monkeypatch):
    from seg_d2.commands import predict

    _video(tmp_path / "clip.mp4")
    monkeypatch.setattr(predict, "prediction_panel", lambda image, *args: image)

    class FailingOnTheSecondFrame:
        metadata = None
        calls = 0

        def __call__(self, frame, format):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("out of memory")
            return {}

    with pytest.raises(RuntimeError, match="out of memory"):
        predict.predict_video(
            FailingOnTheSecondFrame(), str(tmp_path / "clip.mp4"), str(tmp_path), "clip", 0.5
        )
    assert os.listdir(tmp_path / "videos") == []
