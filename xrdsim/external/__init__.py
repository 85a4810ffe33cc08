"""Scoring a collector that is not ours: it runs as its own process, is fed the simulated
datagrams over UDP the way real servers would send them, and its records are read back
through a record adapter.

    delivery    one loopback address (and source port) per simulated server; ports; pacing
    command     the command line, placeholders substituted safely, no shell
    supervise   the process group, its stderr log, early death, SIGTERM/SIGKILL
    tail        its output followed live (file, stdout, AMQP), each line stamped on receipt
    records     JSON lines / Parquet → ``Rec``s through ``xrdsim.score.formats`` adapters
    lossmetric  its own loss estimate from its Prometheus endpoint
    run         one whole run of the above
"""

from xrdsim.external.delivery import AddressPlan, Ports, Sender, free_udp_port
from xrdsim.external.errors import (
    CollectorFailed,
    CollectorHung,
    CollectorNotReady,
    CommandError,
    ExternalError,
    RecordsError,
)
from xrdsim.external.records import ExternalRecords, Sample, read_records
from xrdsim.external.run import ExternalRun, run_external

__all__ = [
    "AddressPlan",
    "CollectorFailed",
    "CollectorHung",
    "CollectorNotReady",
    "CommandError",
    "ExternalError",
    "ExternalRecords",
    "ExternalRun",
    "Ports",
    "RecordsError",
    "Sample",
    "Sender",
    "free_udp_port",
    "read_records",
    "run_external",
]
