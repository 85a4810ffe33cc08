"""The fidelity check: a scenario's scripted sessions played on a real local XRootD and in
the simulator, each run's monitoring profiled (what is random by nature normalised) and
compared property by property. ``run_fidelity(SimConfig, seed) -> FidelityResult``.
"""

from xrdsim.fidelity.check import (
    FidelityResult,
    Row,
    compare,
    dest_names,
    read_capture,
    render_differences,
    render_table,
    run_fidelity,
    run_sim,
    script_config,
    write_capture,
)
from xrdsim.fidelity.profile import Profile, Property, norm_text, norm_userid, profile
from xrdsim.fidelity.realserver import RealServer, RealServerError, monitor_directive, report_directive

__all__ = [
    "FidelityResult",
    "Profile",
    "Property",
    "RealServer",
    "RealServerError",
    "Row",
    "compare",
    "dest_names",
    "monitor_directive",
    "norm_text",
    "norm_userid",
    "profile",
    "read_capture",
    "render_differences",
    "render_table",
    "report_directive",
    "run_fidelity",
    "run_sim",
    "script_config",
    "write_capture",
]
