"""Validation of a site's own capture: its XRootD monitoring, reassembled by the reference
collector, against the TCP payload of the data ports in a capture or against interface
counters, with configuration findings and the same reports as a scenario run.

    from xrdsim.validation import ValidateOptions, validate, write_reports
    v = validate("mon.pcap", ValidateOptions(data_ports=(1094,)))
    write_reports(v, "reports/validate-mon"); print(v.passed)
"""

from xrdsim.validation.compare import Comparison
from xrdsim.validation.documents import score_document, write_reports
from xrdsim.validation.findings import Finding, Severity
from xrdsim.validation.network import ValidationInputError
from xrdsim.validation.pipeline import validate
from xrdsim.validation.result import ETHERNET_OVERHEAD, ValidateOptions, Validation
from xrdsim.validation.servers import ServerFacts

__all__ = [
    "ETHERNET_OVERHEAD",
    "Comparison",
    "Finding",
    "ServerFacts",
    "Severity",
    "ValidateOptions",
    "Validation",
    "ValidationInputError",
    "score_document",
    "validate",
    "write_reports",
]
