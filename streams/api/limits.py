"""What one API key may cost the API: a request rate (token bucket) and a number of open
streams. Over either, the request is answered 429 with `Retry-After` (streams/api/server.py).

Per key, not per address: keys are what subscribers are given, and several subscribers may sit
behind one proxy address. State is one small bucket per key seen, so it is bounded by the keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float


class KeyLimits:
    def __init__(self, *, rate: float, burst: int, streams: int) -> None:
        self.rate, self.burst, self.streams = rate, burst, streams
        self.buckets: dict[str, Bucket] = {}
        self.open: dict[str, int] = {}  # key id → streams open

    def request(self, key_id: str, now: float) -> int | None:
        """None if the key may make a request now (and it is counted), else the seconds to wait
        (for Retry-After, at least 1)."""
        bucket = self.buckets.get(key_id)
        if bucket is None:
            bucket = self.buckets[key_id] = Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def open_stream(self, key_id: str) -> bool:
        """True (and counted) if the key may open one more stream."""
        if self.open.get(key_id, 0) >= self.streams:
            return False
        self.open[key_id] = self.open.get(key_id, 0) + 1
        return True

    def close_stream(self, key_id: str) -> None:
        left = self.open.get(key_id, 0) - 1
        if left > 0:
            self.open[key_id] = left
        else:
            self.open.pop(key_id, None)
