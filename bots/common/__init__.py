"""What the adapters share, written once: ``delivery`` (at-least-once answering over the store's
inbox), ``serial`` (one conversation's jobs in order on a thread pool), ``locks`` (keyed asyncio
locks), ``env`` (secrets from the environment), ``lifecycle`` (what every ``main()`` does around
serving) and ``lazy`` (names imported on first use).

Imports no chat SDK: each platform's package keeps its SDK to itself.
"""
