"""Where events go: JSON lines (default), Parquet, memory (tests), and the Prometheus text
endpoint. Every sink has ``write(events)`` and ``close()``; none decodes or correlates."""

from collector.sinks.jsonl import JsonlSink
from collector.sinks.memory import MemorySink
from collector.sinks.parquet import ParquetSink
from collector.sinks.prometheus import MetricsServer, render_metrics

__all__ = ["JsonlSink", "MemorySink", "MetricsServer", "ParquetSink", "render_metrics"]
