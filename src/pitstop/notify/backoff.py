"""When to try a failed delivery again: exponential backoff with "equal jitter".

Attempt n waits between d/2 and d, with d = base * 2**(n-1) capped at `cap`: the waits grow
attempt after attempt (the ranges do not overlap until the cap), and many deliveries that failed
together do not come back at the same instant. A receiver's Retry-After is a floor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 30.0
    cap: float = 6 * 3600.0
    #: After this many failed attempts a delivery is dead.
    max_attempts: int = 8
    #: The longest Retry-After we honour.
    max_retry_after: float = 24 * 3600.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 for the first)."""
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        wait = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
