"""Which packets of a decode pass go to the decoder, and how, when their stamps name their frames.

- A wanted packet is sent as is.
- An unwanted packet of an intra-only stream (MJPEG) is not sent: no other picture needs it.
- An unwanted packet of MPEG-4 Part 2 that lies before the keyframe of the next wanted
  frame is not sent either (`mpeg4_vops`: nothing after an I-VOP refers to anything before
  it). The first packet sent after such a gap must start with an I-VOP; when it does not
  (the container's keyframe flag lied) `bad_keyframe` is set and the caller decodes again
  from the start without leaving packets out.
- Other unwanted packets are sent with ``skip_frame = "NONREF"``: the codec skips them
  when no other picture refers to them (B-frames), reference pictures still decode.
"""

from __future__ import annotations

import av

from video_assets.media.decode import DecodeStats
from video_assets.media.mpeg4_vops import starts_intra, vop_types

# Codecs whose keyframes (I-VOPs) cut every reference to the packets before them.
GOP_CUTTING_CODECS = frozenset({"mpeg4"})


class PacketSending:
    """Decides packet by packet for one pass (see the module notes)."""

    def __init__(
        self,
        stream: av.video.stream.VideoStream,
        wanted_pts: frozenset[int],
        key_before: list[int],
        intra_only: bool,
    ) -> None:
        self.stream = stream
        self.wanted_pts, self.key_before, self.intra_only = wanted_pts, key_before, intra_only
        self.drops_gops = stream.codec_context.name in GOP_CUTTING_CODECS and not intra_only
        self.recovering = False  # intra-only: a wanted packet failed, send the next ones until a picture comes
        self.dropped = False  # reference packets were left out since the last one sent
        self.last_key = -1  # frame of the last keyframe sent
        self.bad_keyframe = False

    def restarted(self, stream: av.video.stream.VideoStream, gops_safe: bool = True) -> None:
        """A fresh decoder (seek or rewind); ``gops_safe`` False: leave no packet out any more."""
        self.stream, self.dropped, self.last_key = stream, False, -1
        self.drops_gops = self.drops_gops and gops_safe

    def send(self, packet: av.Packet, position: int, target: int, stats: DecodeStats) -> bool:
        """Whether to send ``packet`` (frame ``position``, -1 unknown) while frame ``target``
        is the next wanted one; sets skip_frame for it when sent."""
        is_wanted = packet.pts is None or packet.pts in self.wanted_pts
        if not is_wanted and (
            (self.intra_only and not self.recovering) or (self.drops_gops and 0 <= position < self.key_before[target])
        ):
            stats.packets_not_sent += 1
            self.dropped = self.dropped or (self.drops_gops and not self._leading_b(packet, position))
            return False
        if self.dropped:
            self.dropped = False
            if not starts_intra(bytes(packet)):
                self.bad_keyframe = True
                return False
        if position >= 0 and self.key_before[position] == position:
            self.last_key = position
        codec = self.stream.codec_context
        # NONREF skips nothing in a stream without B-frames (every picture is a reference), and
        # setting it costs (2-4 ms per 180 MPEG-4 packets), so it is set only when it changes. The
        # codec's own value is read, not a copy kept here: a seek keeps it, a reopened file resets it.
        skipping = codec.skip_frame == "NONREF"
        if skipping == is_wanted and (skipping or codec.has_b_frames):
            codec.skip_frame = "DEFAULT" if skipping else "NONREF"
        return True

    def _leading_b(self, packet: av.Packet, position: int) -> bool:
        """A B-VOP shown before the keyframe sent last, decoded after it (open GOP): no picture
        refers to it, so leaving it out needs no I-VOP after it."""
        return position < self.last_key and vop_types(bytes(packet))[:1] == ["B"]

    def decoded(self, pictures: int, failed: bool) -> None:
        """After a sent packet: an intra-only stream recovers from a failed wanted packet
        by sending the next ones until one gives a picture."""
        if self.intra_only:
            self.recovering = (self.recovering or failed) and not pictures
