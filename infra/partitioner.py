"""Kafka's default key partitioner (murmur2), so keys land where Java and faust put them."""

from __future__ import annotations

from functools import lru_cache

SEED, M, R = 0x9747B28C, 0x5BD1E995, 24
MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of ``data`` (as a signed 32-bit value, like the Java client)."""
    length = len(data)
    h = (SEED ^ length) & MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * M) & MASK
        k ^= k >> R
        k = (k * M) & MASK
        h = ((h * M) & MASK) ^ k
    tail = length % 4
    if tail == 3:  # noqa: PLR2004  # the three tail cases of murmur2
        h ^= data[whole + 2] << 16
    if tail >= 2:  # noqa: PLR2004
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * M) & MASK
    h ^= h >> 13
    h = (h * M) & MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


@lru_cache(maxsize=65_536)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (recent keys cached)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
