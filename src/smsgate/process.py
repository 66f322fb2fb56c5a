"""What every long-running smsgate process does once it has started (serve, worker, the
worker and webhook children)."""

from __future__ import annotations

import gc


def settle_gc() -> None:
    """Keep the cycle collector off the request path, once everything is set up.

    Measured under create load: the default thresholds ran a full collection every second
    or so, walking the ~80,000 objects every import and the app leave behind for 60-100 ms
    with the GIL held (the p99), and young collections every ~700 allocations took another
    5% of the event loop. What exists now lives until exit, so ``gc.freeze()`` takes it out
    of the collector's sight; requests allocate a few hundred containers each that reference
    counting frees, so the young generation is collected after 10,000 instead of 700.

    In the webhook child the same cut the HTTP client's CPU per request by about a quarter
    (aiohttp then, from ~100 to ~76 µs a request against bench/callback_sink.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
