"""H.264 parameter sets and slice headers, read as far as a picture's display order needs
(ISO/IEC 14496-10 7.3.2.1.1, 7.3.2.2, 7.3.3), without decoding.

Only what `h264_order` uses is kept: the fields that place a picture (frame_num,
picture order count), whether it is a reference, and whether it carries
memory_management_control_operation 5 (which resets the order count). Streams this reader
does not follow (field pictures, picture order count type 1, slice groups) raise
`Unsupported`; the caller then decodes every picture, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_assets.media.bit_reader import BitReader

# profile_idc values whose SPS carries chroma format, bit depths and scaling lists.
HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
HEADER_BYTES = 320  # a slice header up to dec_ref_pic_marking fits (16 weighted refs included)
SHORT_HEADER_BYTES = 40


class Unsupported(ValueError):
    """A header this reader does not follow."""


class CutShort(Unsupported):
    """The bytes read end before the header does."""


class RbspBits(BitReader):
    """Exp-Golomb and fixed-width reads over a NAL unit's payload (emulation bytes removed)."""

    cut_short = CutShort
    u = BitReader.read  # the standard's name for a fixed-width read

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload.replace(b"\x00\x00\x03", b"\x00\x00"))

    def ue(self) -> int:
        left = self.left
        window = 64 if left > 64 else left
        head = (self.value >> (left - window)) & ((1 << window) - 1)
        zeros = window - head.bit_length()
        if 2 * zeros + 1 > left:
            raise CutShort("header cut short")
        if zeros >= 32:
            raise Unsupported("bad Exp-Golomb code")
        self.left = left - 2 * zeros - 1
        return ((self.value >> self.left) & ((2 << zeros) - 1)) - 1

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


@dataclass(frozen=True)
class Sps:
    chroma_array_type: int
    frame_num_bits: int
    poc_type: int
    poc_lsb_bits: int
    separate_colour_plane: bool


@dataclass(frozen=True)
class Pps:
    sps_id: int
    bottom_field_poc: bool
    ref_idx_defaults: tuple[int, int]
    weighted_pred: bool
    weighted_bipred_idc: int
    redundant_pic_cnt: bool


@dataclass(frozen=True)
class SliceHeader:
    idr: bool
    reference: bool
    first_mb: int
    poc_lsb: int
    delta_bottom: int
    resets_order: bool  # memory_management_control_operation 5
    poc_type: int  # of its SPS
    poc_lsb_bits: int
    frame_num: int = 0
    frame_num_bits: int = 4  # of its SPS


def _skip_scaling_list(bits: RbspBits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def parse_sps(payload: bytes) -> tuple[int, Sps]:
    bits = RbspBits(payload[:HEADER_BYTES])
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level_idc
    sps_id = bits.ue()
    chroma, separate = 1, False
    if profile in HIGH_PROFILES:
        chroma = bits.ue()
        if chroma == 3:
            separate = bool(bits.u(1))
        bits.ue(), bits.ue(), bits.u(1)  # bit depths, qpprime_y_zero_transform_bypass
        if bits.u(1):  # seq_scaling_matrix_present
            for i in range(8 if chroma != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    frame_num_bits = bits.ue() + 4
    poc_type = bits.ue()
    if poc_type == 1:
        raise Unsupported("picture order count type 1")
    poc_lsb_bits = bits.ue() + 4 if poc_type == 0 else 0
    bits.ue(), bits.u(1), bits.ue(), bits.ue()  # max refs, gaps allowed, width, height
    if not bits.u(1):
        raise Unsupported("field pictures (frame_mbs_only_flag 0)")
    return sps_id, Sps(0 if separate else chroma, frame_num_bits, poc_type, poc_lsb_bits, separate)


def parse_pps(payload: bytes) -> tuple[int, Pps]:
    bits = RbspBits(payload[:HEADER_BYTES])
    pps_id, sps_id = bits.ue(), bits.ue()
    bits.u(1)  # entropy_coding_mode
    bottom_field_poc = bool(bits.u(1))
    if bits.ue():
        raise Unsupported("slice groups")
    defaults = (bits.ue(), bits.ue())
    weighted_pred, bipred = bool(bits.u(1)), bits.u(2)
    bits.se(), bits.se(), bits.se()  # pic_init_qp, pic_init_qs, chroma_qp_index_offset
    bits.u(2)  # deblocking_filter_control_present, constrained_intra_pred
    return pps_id, Pps(sps_id, bottom_field_poc, defaults, weighted_pred, bipred, bool(bits.u(1)))


def _skip_list_modification(bits: RbspBits) -> None:
    if bits.u(1):
        while (idc := bits.ue()) != 3:
            if idc > 5:
                raise Unsupported("ref_pic_list_modification")
            bits.ue()


def _skip_weights(bits: RbspBits, sps: Sps, refs: int) -> None:
    for _ in range(refs):
        if bits.u(1):
            bits.se(), bits.se()
        if sps.chroma_array_type and bits.u(1):
            bits.se(), bits.se(), bits.se(), bits.se()


def _marks_reset(bits: RbspBits, idr: bool) -> bool:
    """dec_ref_pic_marking: whether it holds memory_management_control_operation 5."""
    if idr:
        bits.u(2)
        return False
    reset = False
    if bits.u(1):  # adaptive_ref_pic_marking_mode
        while op := bits.ue():
            if op in (1, 3):
                bits.ue()
            if op in (2, 3, 6):
                bits.ue()
            if op == 4:
                bits.ue()
            reset = reset or op == 5
    return reset


def first_mb(payload: bytes) -> int:
    """first_mb_in_slice of a slice NAL unit (0: the slice starts a new picture)."""
    return RbspBits(payload[:8]).ue()


def parse_slice(header: int, payload: bytes, sps_of: dict[int, Sps], pps_of: dict[int, Pps]) -> SliceHeader:
    """The slice header after NAL header byte ``header`` (types 1 and 5). Most fit in the
    first SHORT_HEADER_BYTES (fewer bytes to unescape and read); the rest are read again whole."""
    try:
        return _parse_slice(header, RbspBits(payload[:SHORT_HEADER_BYTES]), sps_of, pps_of)
    except CutShort:
        return _parse_slice(header, RbspBits(payload[:HEADER_BYTES]), sps_of, pps_of)


def _parse_slice(header: int, bits: RbspBits, sps_of: dict[int, Sps], pps_of: dict[int, Pps]) -> SliceHeader:
    idr, reference = header & 0x1F == 5, bool(header >> 5 & 3)
    first_mb, kind = bits.ue(), bits.ue() % 5
    pps = pps_of.get(bits.ue())
    sps = None if pps is None else sps_of.get(pps.sps_id)
    if sps is None:
        raise Unsupported("slice before its parameter sets")
    if sps.separate_colour_plane:
        bits.u(2)
    frame_num = bits.u(sps.frame_num_bits)
    if idr:
        bits.ue()
    lsb = delta = 0
    if sps.poc_type == 0:
        lsb = bits.u(sps.poc_lsb_bits)
        delta = bits.se() if pps.bottom_field_poc else 0
    if not reference:  # nothing after this changes its order: no dec_ref_pic_marking to read
        return SliceHeader(idr, reference, first_mb, lsb, delta, False, *_sps_fields(sps, frame_num))
    if pps.redundant_pic_cnt:
        bits.ue()
    b_slice, p_slice = kind == 1, kind in (0, 3)
    if b_slice:
        bits.u(1)  # direct_spatial_mv_pred
    refs = list(pps.ref_idx_defaults)
    if (p_slice or b_slice) and bits.u(1):  # num_ref_idx_active_override
        refs = [bits.ue(), bits.ue() if b_slice else refs[1]]
    if kind not in (2, 4):
        _skip_list_modification(bits)
        if b_slice:
            _skip_list_modification(bits)
    if (pps.weighted_pred and p_slice) or (pps.weighted_bipred_idc == 1 and b_slice):
        bits.ue()
        if sps.chroma_array_type:
            bits.ue()
        _skip_weights(bits, sps, refs[0] + 1)
        if b_slice:
            _skip_weights(bits, sps, refs[1] + 1)
    resets = _marks_reset(bits, idr)
    return SliceHeader(idr, reference, first_mb, lsb, delta, resets, *_sps_fields(sps, frame_num))


def _sps_fields(sps: Sps, frame_num: int) -> tuple[int, int, int, int]:
    return sps.poc_type, sps.poc_lsb_bits, frame_num, sps.frame_num_bits
