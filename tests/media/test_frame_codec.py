"""JPEG frame codec: exact shapes, faithful colours, quality that is really applied."""

from __future__ import annotations

import av
import numpy as np
import pytest

from video_assets.media.frame_codec import FrameCodecError, decode_jpeg, encode_jpeg, jpeg_qscale
from video_assets.media.synthetic import make_video

BT601_LUMA = np.array([0.299, 0.587, 0.114])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def natural(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Ten 240x320 frames of gradient + moving boxes, through H.264 like real uploads."""
    path = make_video(tmp_path_factory.mktemp("codec") / "v.mp4", duration_s=1.0, fps=10, size=(320, 240), seed=5)
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.parametrize("shape", [(3, 48, 64, 3), (1, 33, 17, 3), (2, 1, 1, 3), (1, 5, 1, 3), (1, 121, 161, 3)])
def test_round_trip_keeps_the_exact_shape_for_even_odd_and_one_frame_clips(shape: tuple[int, ...]) -> None:
    n, h, w, _ = shape
    # Gentle ramps, a different blue per frame: JPEG must give them back closely (and
    # in order), not just at the right size.
    ys, xs = np.mgrid[0:h, 0:w]
    frames = np.stack(
        [np.stack([60 + 2 * xs, 80 + 2 * ys, np.full_like(xs, 20 + 60 * i)], -1).clip(0, 255) for i in range(n)]
    ).astype(np.uint8)
    blobs = encode_jpeg(frames)
    assert len(blobs) == n and all(b[:2] == b"\xff\xd8" for b in blobs)  # one JPEG (SOI marker) per frame
    out = decode_jpeg(blobs, frames.shape)
    assert out.shape == frames.shape and out.dtype == np.uint8
    error = np.abs(out.astype(int) - frames)
    # 8-bit YCbCr steps, times 1.77 for blue from Cb, plus the q95 quantizer: a few levels.
    assert error.max() <= 6 and error.mean() <= 1.5


def test_quality_95_keeps_natural_frames_visually_lossless(natural: np.ndarray) -> None:
    out = decode_jpeg(encode_jpeg(natural, quality=95), natural.shape)
    # Luma is not subsampled: its error is the DCT quantization alone, whose steps at
    # q95 are 2-10 levels per coefficient, about 1 level RMS in the picture (48 dB).
    assert _psnr(natural @ BT601_LUMA, out @ BT601_LUMA) >= 45.0
    # RGB adds 4:2:0 chroma, which costs most at the sharp coloured box edges here;
    # 38-40 dB is where compressed pictures are usually called visually lossless.
    assert _psnr(natural, out) >= 38.0
    # And no colour cast: the mean of every channel stays within a grey level.
    assert np.abs(out.reshape(-1, 3).mean(0) - natural.reshape(-1, 3).mean(0)).max() <= 1.0


def test_lower_quality_gives_fewer_bytes_and_more_error(natural: np.ndarray) -> None:
    sizes, errors = [], []
    for quality in (95, 75, 30):
        blobs = encode_jpeg(natural, quality=quality)
        sizes.append(sum(map(len, blobs)))
        errors.append(_psnr(natural, decode_jpeg(blobs, natural.shape)))
    # A fixed quantizer really reaches the encoder (rate control would give equal sizes).
    assert sizes[0] > sizes[1] > sizes[2]
    assert errors[0] > errors[1] > errors[2]
    assert sizes[0] < natural.nbytes / 10  # even q95 is a fraction of the raw bytes


def test_colours_do_not_shift() -> None:
    # Flat patches, the extremes included: a limited/full range mix-up would move
    # black to 16 and white to 235, a wrong matrix would tint the primaries.
    colours = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (255, 0, 0), (0, 255, 0), (0, 0, 255), (200, 150, 30)]
    frames = np.stack([np.broadcast_to(np.array(c, dtype=np.uint8), (32, 48, 3)) for c in colours])
    out = decode_jpeg(encode_jpeg(frames), frames.shape)
    means = out.reshape(len(colours), -1, 3).mean(axis=1)
    assert np.abs(means - np.array(colours)).max() <= 2.0


def test_quality_maps_onto_the_mjpeg_quantizer_scale() -> None:
    scales = [jpeg_qscale(q) for q in range(1, 101)]
    assert scales == sorted(scales, reverse=True)  # higher quality, finer quantizer
    assert scales[0] == 31 and scales[-1] == 1  # the encoder's whole range is used
    for bad in (0, 101, 95.0, True):
        with pytest.raises(FrameCodecError, match="quality"):
            jpeg_qscale(bad)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8, 3), np.uint8), r"\(N, H, W, 3\)"),
        (np.zeros((1, 8, 8, 4), np.uint8), r"\(N, H, W, 3\)"),
        (np.zeros((1, 0, 8, 3), np.uint8), "1x1"),
    ],
)
def test_encode_names_what_is_wrong_with_the_frames(frames: np.ndarray, message: str) -> None:
    with pytest.raises(FrameCodecError, match=message):
        encode_jpeg(frames)


def test_decode_refuses_data_that_does_not_match_the_stored_frames() -> None:
    frames = np.full((2, 16, 24, 3), 90, np.uint8)
    blobs = encode_jpeg(frames)
    with pytest.raises(FrameCodecError, match="16x24 .*says 16x25"):
        decode_jpeg(blobs, (2, 16, 25, 3))
    with pytest.raises(FrameCodecError, match="2 JPEG frames stored for shape"):
        decode_jpeg(blobs, (3, 16, 24, 3))
    with pytest.raises(FrameCodecError, match="frame 1 of 2 does not decode"):
        decode_jpeg([blobs[0], blobs[1][: len(blobs[1]) // 2]], frames.shape)  # truncated scan
    with pytest.raises(FrameCodecError, match="frame 0 of 1"):
        decode_jpeg([b""], (1, 16, 24, 3))
    assert decode_jpeg([], (0, 16, 24, 3)).shape == (0, 16, 24, 3)
