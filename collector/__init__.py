"""The reference collector: a sans-I/O core fed datagrams, returning typed events.

    from collector import Collector, CollectorConfig
    c = Collector(CollectorConfig(open_ttl=600))
    events = c.feed(payload, ("192.0.2.7", 40123), t_arrival)
    events += c.flush(now); events += c.close(now); print(c.report().format_text())

Sources (UDP, pcap, shoveler JSON) and sinks (JSONL, Parquet, Prometheus) are in
``collector.sources`` and ``collector.sinks``; ``collector.run`` drives them.
"""

from collector.config import CollectorConfig
from collector.core import Collector
from collector.records import (
    Anomaly,
    AnomalyKind,
    CacheRecord,
    Ended,
    Event,
    Malformed,
    RedirectEvent,
    SummarySample,
    TpcRecord,
    TransferRecord,
    current_records,
)
from collector.report import CollectorReport
from collector.sequence import GroupStats

__all__ = [
    "Anomaly",
    "AnomalyKind",
    "CacheRecord",
    "Collector",
    "CollectorConfig",
    "CollectorReport",
    "Ended",
    "Event",
    "GroupStats",
    "Malformed",
    "RedirectEvent",
    "SummarySample",
    "TpcRecord",
    "TransferRecord",
    "current_records",
]
