"""Mirror invariance of the fingerprint: the same vector for a clip and its left-right mirror.

Mirroring a window flips the sign of every DCT coefficient of odd horizontal frequency
u and keeps the even ones; our windows come in mirror pairs, so after averaging over
them the whole mirror acts as "negate the odd-u coordinates". A descriptor made of the
even-u coordinates and of *products* of two odd-u coordinates is therefore unchanged
by the mirror, and it keeps the relative signs of the odd coefficients (which way one
edge leans compared with another) that plain magnitudes would lose. Products need no
reference orientation, so there is no canonical-sign decision that a crop or an
overlay could flip. Products of unrelated content average to zero, like the
coefficients themselves.
"""

from __future__ import annotations

import torch

from video_assets.models.fingerprint_dct import signed_sqrt

DCT_BLOCK = 8


def _ac_index(v: int, u: int) -> int:
    """Position of DCT coefficient (row frequency v, column frequency u) among the 63 AC ones."""
    return DCT_BLOCK * v + u - 1


# 64 per-window values: 63 AC coefficients (row-major, DC dropped), then flatness.
ODD_U = torch.tensor([((k + 1) % DCT_BLOCK) % 2 == 1 for k in range(63)] + [False])  # (64,)
# 32 odd-u pairs, neighbours in frequency (they share structure, so their product is
# stable): along u in every row, along v in the first column, and one more at low
# frequency. 32 keeps the per-window descriptor at 64 = 32 even + 32 products.
ODD_PAIRS: tuple[tuple[int, int], ...] = (
    tuple((_ac_index(v, u), _ac_index(v, u + 2)) for v in range(DCT_BLOCK) for u in (1, 3, 5))
    + tuple((_ac_index(v, 1), _ac_index(v + 1, 1)) for v in range(DCT_BLOCK - 1))
    + ((_ac_index(0, 3), _ac_index(1, 3)),)
)
# The products weigh less than the even part: a large static overlay (a caption bar)
# moves the odd coefficients most, and products move twice as fast as their factors.
PAIR_WEIGHT = 0.3

_FIRST = torch.tensor([i for i, _ in ODD_PAIRS])
_SECOND = torch.tensor([j for _, j in ODD_PAIRS])


def mirror_invariant(per_window: torch.Tensor) -> torch.Tensor:
    """(..., 64) window descriptors -> (..., 64): the 32 even-u values and the 32 odd-u
    products (signed square root: back to the scale of one coefficient), weighted."""
    even = per_window[..., ~ODD_U]  # (..., 32): 31 AC + flatness
    products = per_window[..., _FIRST] * per_window[..., _SECOND]  # (..., 32)
    return torch.cat([even, PAIR_WEIGHT * signed_sqrt(products)], dim=-1)
