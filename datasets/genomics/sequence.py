"""DNA as small integer codes: A, C, G, T = 0, 1, 2, 3 and anything else (IUPAC ambiguity, gap) = N = 4.

Every reader in this package hands sequences around as ``uint8`` code arrays: a chromosome costs
one byte a base, reverse complementing is a table lookup, and one-hot encoding (N → all zeros, as
SpliceAI feeds padding and unknown bases to its network) is a single index into an identity matrix.
Soft-masked (lower-case) bases are read as their upper-case letters; ``U`` is read as ``T``.
"""

from __future__ import annotations

import numpy as np

A, C, G, T, N = 0, 1, 2, 3, 4
LETTERS = "ACGTN"

#: byte -> code; every byte that is not A/C/G/T/U (either case) is N
_ENCODE = np.full(256, N, dtype=np.uint8)
for _code, _letters in enumerate(("Aa", "Cc", "Gg", "TtUu")):
    for _letter in _letters:
        _ENCODE[ord(_letter)] = _code

_COMPLEMENT = np.array([T, G, C, A, N], dtype=np.uint8)
_DECODE = np.frombuffer(LETTERS.encode(), dtype=np.uint8)
_IUPAC_COMPLEMENT = str.maketrans("ACGTURYKMSWBDHVNacgturykmswbdhvn", "TGCAAYRMKSWVHDBNtgcaayrmkswvhdbn")


def encode(sequence: str | bytes) -> np.ndarray:
    """Codes of a DNA string (IUPAC ambiguity codes and anything unknown become N)."""
    raw = sequence.encode("ascii", errors="replace") if isinstance(sequence, str) else sequence
    return _ENCODE[np.frombuffer(raw, dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    """The string ``ACGTN`` of ``codes``."""
    return _DECODE[np.asarray(codes, dtype=np.uint8)].tobytes().decode("ascii")


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of a code array (N stays N)."""
    return _COMPLEMENT[np.asarray(codes, dtype=np.uint8)[::-1]]


def reverse_complement_text(sequence: str) -> str:
    """Reverse complement of a DNA string, IUPAC codes complemented (R <-> Y, ...)."""
    return sequence.translate(_IUPAC_COMPLEMENT)[::-1]


def one_hot(codes: np.ndarray) -> np.ndarray:
    """``(..., 4)`` float32 one-hot of ``codes``; N is all zeros."""
    table = np.concatenate([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])
    return table[np.asarray(codes, dtype=np.int64)]
