"""Frames as JPEG: (N, H, W, 3) uint8 RGB <-> one JPEG per frame, with PyAV's mjpeg codec.

Raw RGB at native resolution is 2.76 MB per 720p frame; JPEG keeps the frames store
small at 100k-1M videos. Choices, and why:
- 4:2:0 full-range YCbCr (``yuvj420p``), the usual JPEG layout: chroma at half
  resolution costs little after the models' own downscale, and full range (the JPEG
  convention, stated on both the encoder and the converters) keeps colours where
  they were. Odd widths and heights need no padding: JPEG codes the true size and the
  decoder returns it, which `decode_jpeg` checks against the stored shape.
- ``quality`` is the familiar 1-100 JPEG scale. FFmpeg's mjpeg encoder has no such
  knob: it quantizes with the MPEG-1 intra matrix times an integer ``qscale`` / 8, so
  `jpeg_qscale` picks the qscale whose mean luma quantizer is nearest IJG libjpeg's
  table at that quality (95 -> 1, 90 -> 3, 75 -> 7, 50 -> 14). The scale is fixed
  (``flags=+qscale``, qmin = qmax): without it the encoder rate-controls to its 200 kb/s
  default and every quality gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

PIX_FMT = "yuvj420p"
MAX_QSCALE = 31  # the mpegvideo encoders' largest quantizer scale
# libswscale flags (swscale.h), as plain ints: PyAV's Interpolation enum lacks some of
# them in some releases, and every release passes an int through. With default flags a
# round trip shifts mean R/G/B by about -1.3 / -0.4 / -1.5 grey levels; accurate
# rounding, a bicubic chroma downsample and full chroma interpolation on the way back
# leave about -0.6 / +0.5 / -0.8, from swscale's RGB -> YCbCr chroma rounding.
_SWS_BILINEAR, _SWS_BICUBIC, _SWS_FULL_CHR_H_INT, _SWS_ACCURATE_RND = 0x2, 0x4, 0x2000, 0x40000
_TO_YCBCR = _SWS_BICUBIC | _SWS_ACCURATE_RND
_TO_RGB = _SWS_BILINEAR | _SWS_ACCURATE_RND | _SWS_FULL_CHR_H_INT
# Mean AC quantizer of IJG's luma table at quality 50, and of the MPEG-1 intra matrix
# the mjpeg encoder scales by qscale / 8 (both without the DC term).
_IJG_LUMA_MEAN = 58.29
_MPEG1_INTRA_MEAN = 33.43


class FrameCodecError(ValueError):
    """Frames that cannot be coded as JPEG, or JPEG bytes that do not decode to the
    stored shape; the message names the frame and the problem."""


def jpeg_qscale(quality: int) -> int:
    """The mjpeg encoder's quantizer scale (1..31) closest to JPEG ``quality`` (1..100)."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise FrameCodecError(f"JPEG quality must be an integer from 1 to 100, got {quality!r}")
    # IJG's scaling of its quality-50 table (libjpeg's jpeg_quality_scaling).
    percent = 5000 / quality if quality < 50 else 200 - 2 * quality
    qscale = 8 * (percent / 100) * _IJG_LUMA_MEAN / _MPEG1_INTRA_MEAN
    return int(min(MAX_QSCALE, max(1, round(qscale))))


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray):
        raise FrameCodecError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise FrameCodecError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
    if frames.ndim != 4 or frames.shape[3] != 3:
        raise FrameCodecError(f"frames must be shaped (N, H, W, 3), got {frames.shape}")
    if frames.shape[1] == 0 or frames.shape[2] == 0:
        raise FrameCodecError(f"frames must be at least 1x1 pixels, got {frames.shape}")


def encode_jpeg(frames: np.ndarray, *, quality: int = 95) -> list[bytes]:
    """One baseline JPEG per frame of a (N, H, W, 3) uint8 RGB array."""
    _check_frames(frames)
    qscale = jpeg_qscale(quality)
    count, height, width = frames.shape[:3]
    if count == 0:
        return []
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = PIX_FMT
    encoder.time_base = Fraction(1, 1)
    encoder.options = {"flags": "+qscale", "qmin": str(qscale), "qmax": str(qscale), "color_range": "pc"}
    packets: list[av.Packet] = []
    to_ycbcr = VideoReformatter()  # one libswscale context for all frames, not one per frame
    for i in range(count):
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
        frame = to_ycbcr.reformat(rgb, format=PIX_FMT, dst_color_range="JPEG", interpolation=_TO_YCBCR)
        frame.pts = i
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    if len(packets) != count:
        raise FrameCodecError(f"mjpeg encoder returned {len(packets)} packets for {count} frames")
    return [bytes(p) for p in packets]


def decode_jpeg(blobs: Sequence[bytes], shape: Sequence[int]) -> np.ndarray:
    """The (N, H, W, 3) uint8 RGB array stored as ``blobs`` (one JPEG per frame, as
    `encode_jpeg` wrote them); ``shape`` is the stored array shape, checked exactly."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4 or shape[3] != 3:
        raise FrameCodecError(f"stored frame shape must be (N, H, W, 3), got {shape}")
    if len(blobs) != shape[0]:
        raise FrameCodecError(f"{len(blobs)} JPEG frames stored for shape {shape}")
    out = np.empty(shape, dtype=np.uint8)
    if not blobs:
        return out
    decoder = av.CodecContext.create("mjpeg", "r")
    # Without "explode" a truncated JPEG decodes silently into a grey-filled picture.
    decoder.options = {"err_detect": "explode"}
    to_rgb = VideoReformatter()  # one libswscale context for all frames, not one per frame
    for i, blob in enumerate(blobs):
        try:
            decoded = decoder.decode(av.Packet(bytes(blob))) if blob else []
        except av.FFmpegError as err:
            raise FrameCodecError(f"JPEG frame {i} of {shape[0]} does not decode: {err}") from err
        if len(decoded) != 1:
            raise FrameCodecError(f"JPEG frame {i} of {shape[0]} decoded to {len(decoded)} pictures, expected 1")
        frame = decoded[0]
        if (frame.height, frame.width) != shape[1:3]:
            raise FrameCodecError(
                f"JPEG frame {i} is {frame.height}x{frame.width} (HxW), the stored shape says {shape[1]}x{shape[2]}"
            )
        out[i] = to_rgb.reformat(frame, format="rgb24", src_color_range="JPEG", interpolation=_TO_RGB).to_ndarray()
    return out
