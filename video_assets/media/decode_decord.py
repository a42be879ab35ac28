"""decord decoder backend (optional dependency, imported only when chosen).

decord decodes by frame index with its own seeking (`VideoReader.get_batch`) at native
size; we resize its RGB output with libswscale (through PyAV), because decord's own
resize (``width=``/``height=``) keeps the source aspect ratio and then fails with a
buffer-size error whenever the requested (H, W) has another one (27x48 from 4:3, for
example). The frame index (timestamps, keyframes) comes from the same
PyAV demux as the default backend whenever decord counts the same number of frames, so
both backends sample exactly the same frames.

Known defects of decord 0.6.0, refused with a `VideoReadError` that says to use PyAV
rather than worked around (both found with the synthetic videos of our tests):
- MPEG-4 Part 2 with B-frames: random access returns frames shifted by the reorder delay;
- H.264 with B-frames in AVI (packets stamped in decode order): frames come back shuffled;
- rotated videos: decord rotates, but for most sizes (64x48, 96x72, 128x72, ...) the
  same buffer-size error fails every batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import decord
import numpy as np

from video_assets.media.decode import Decoder, FrameIndex, ReadRequest, fit_pixels
from video_assets.media.decode_pyav import stamps_in_decode_order
from video_assets.media.errors import VideoReadError
from video_assets.media.pyav_container import first_frame_rotation, index_stream, open_container, video_stream
from video_assets.media.pyav_pictures import RgbConverter, resize_rgb

# get_batch size: big enough to amortise decord's per-call overhead, small enough that a
# batch of 1080p frames stays far below the memory of one clip.
BATCH_FRAMES = 16
USE_PYAV = "use backend='pyav'"


class DecordDecoder(Decoder):
    name = "decord"

    def __init__(self, path: str, num_threads: int = 0) -> None:
        super().__init__(path, num_threads)
        with open_container(path) as container:
            stream = video_stream(container, path)
            codec = stream.codec_context.name
            pyav_index, _ = index_stream(container, stream, path)
        if codec == "mpeg4" and pyav_index.reordered:
            raise VideoReadError(path, f"decord returns wrong frames for MPEG-4 Part 2 with B-frames; {USE_PYAV}")
        if stamps_in_decode_order(path, pyav_index, codec):
            raise VideoReadError(path, f"decord returns wrong frames when pts are in decode order (AVI); {USE_PYAV}")
        with open_container(path) as container:
            if first_frame_rotation(container, path):
                raise VideoReadError(path, f"decord cannot size rotated videos reliably; {USE_PYAV}")
        try:
            reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=num_threads)
        except decord.DECORDError as err:
            raise VideoReadError(path, f"decord cannot open it ({err})") from err
        count = len(reader)
        if count == len(pyav_index):
            self.index = pyav_index
        else:  # decord and the demuxer disagree (e.g. packets without pts): trust decord's own
            stamps = reader.get_frame_timestamp(np.arange(count)).astype(np.float64)
            keyframes = np.zeros(count, dtype=bool)
            keyframes[np.asarray(reader.get_key_indices(), dtype=np.int64)] = True
            times = stamps[:, 0] - stamps[0, 0]
            self.index = FrameIndex(times, keyframes, float(stamps[-1, 1] - stamps[-1, 0]))
        self._reader = reader

    def close(self) -> None:
        self._reader = None

    def _read_checked(self, request: ReadRequest) -> Iterator[tuple[int, np.ndarray]]:
        # `request.edges` unused: no substitutes here, a batch that fails is missing.
        wanted, size, max_pixels = request.wanted, request.size, request.max_pixels
        converter = RgbConverter(request.scaling, request.scaling.threads or self.num_threads)  # one sws context
        for start in range(0, len(wanted), BATCH_FRAMES):
            batch = wanted[start : start + BATCH_FRAMES]
            try:
                frames = self._reader.get_batch(batch.tolist()).asnumpy()
            except decord.DECORDError as err:
                self.errors.append(f"decord failed on frames {batch[0]}..{batch[-1]}: {err}")
                continue
            for i, rgb in zip(batch, frames):
                self.stats.frames_converted += 1
                fitted = size or fit_pixels(rgb.shape[0], rgb.shape[1], max_pixels)
                if fitted is not None and size is None:
                    self.scaled_from = (rgb.shape[0], rgb.shape[1])
                yield int(i), rgb if fitted is None else resize_rgb(rgb, fitted, converter=converter)
