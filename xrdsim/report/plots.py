"""The report's PNG plots (matplotlib, Agg backend; the only module that imports it): volume
vs NIC per site, truth vs recorded bytes, site × time agreement, loss per server, anomalies
against injected faults. Draws the score card's evidence; computes no metric.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from xrdsim.score import ScoreCard, cell_agreement

#: Sites drawn in the volume time series (the worst by agreement) and the heatmap.
MAX_SERIES_SITES = 6
MAX_HEATMAP_SITES = 40
MAX_LOSS_SERVERS = 25
DPI = 110
GB = 1e9


def _times(edges: list[float]) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(t, dt.UTC) for t in edges]


def _time_axis(ax: Any) -> None:
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.UTC))
    ax.set_xlabel("time (UTC)")


def _worst_sites(card: ScoreCard, n: int) -> list[str]:
    sites = sorted(card.sites, key=lambda s: (math.isnan(s.agreement), s.agreement))
    return [s.site for s in sites if s.site in card.series.nic][:n]


def plot_volume(card: ScoreCard, path: Path) -> str:
    """Monitored vs NIC bytes per bin for the worst sites and for all sites summed."""
    series = card.series
    sites = _worst_sites(card, MAX_SERIES_SITES)
    panels = [("all sites", [sum(c) for c in zip(*series.monitored.values())], [sum(c) for c in zip(*series.nic.values())])]
    panels += [(s, series.monitored.get(s, []), series.nic[s]) for s in sites]
    cols = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 2.6 * rows), squeeze=False, sharex=True)
    mids = _times([t + series.bins.width_s / 2 for t in series.bins.edges()[:-1]])
    for ax, (title, mon, nic) in zip(axes.flat, panels):
        ax.plot(mids, [v / GB for v in nic], color="#444", lw=2.2, label="NIC payload (inverted)")
        ax.plot(mids[: len(mon)], [v / GB for v in mon], color="#d62728", lw=1.2, ls="--", label="monitored")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(f"GB per {series.bins.width_s / 60:g} min")
        _time_axis(ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Monitored bytes vs NIC counters (all sites, then the worst sites)")
    return _save(fig, path)


def plot_scatter(card: ScoreCard, path: Path) -> str:
    """Per matched transfer: true bytes vs recorded bytes, log-log, with the diagonal."""
    fig, ax = plt.subplots(figsize=(6, 5.5))
    pairs = [(t, r) for t, r in card.byte_pairs if t > 0 or r > 0]
    if pairs:
        xs, ys = [max(t, 1) for t, _ in pairs], [max(r, 1) for _, r in pairs]
        exact = [t == r for t, r in pairs]
        ax.scatter([x for x, e in zip(xs, exact) if e], [y for y, e in zip(ys, exact) if e], s=4, alpha=0.4, color="#1f77b4", label="exact")
        ax.scatter([x for x, e in zip(xs, exact) if not e], [y for y, e in zip(ys, exact) if not e], s=9, color="#d62728", label="differs")
        lo, hi = min(xs + ys), max(xs + ys)
        ax.plot([lo, hi], [lo, hi], color="#888", lw=1, zorder=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("true bytes (read + readv + write)")
    ax.set_ylabel("recorded bytes")
    ax.set_title(f"Per transfer: truth vs record ({len(pairs):,} matches shown)")
    return _save(fig, path)


def plot_heatmap(card: ScoreCard, path: Path) -> str:
    """Site × time-bin agreement 1 − |m − n| / max(m, n), worst sites on top."""
    series = card.series
    sites = _worst_sites(card, MAX_HEATMAP_SITES)
    grid = [[cell_agreement(m, n) for m, n in zip(series.monitored.get(s, []), series.nic[s])] for s in sites]
    fig, ax = plt.subplots(figsize=(10, 1.5 + 0.22 * max(len(sites), 4)))
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#e8e8e8")
    edges = mdates.date2num(_times(series.bins.edges()))
    im = ax.imshow(grid or [[math.nan]], aspect="auto", cmap=cmap, vmin=0.8, vmax=1.0, interpolation="nearest",
                   extent=(edges[0], edges[-1], len(sites) - 0.5, -0.5))  # fmt: skip
    ax.xaxis_date()
    _time_axis(ax)
    ax.set_yticks(range(len(sites)))
    ax.set_yticklabels(sites, fontsize=7)
    fig.colorbar(im, ax=ax, label="agreement (grey: no traffic)", fraction=0.03)
    ax.set_title(f"Agreement per site and {series.bins.width_s / 60:g}-minute bin (worst {len(sites)} sites on top)")
    return _save(fig, path)


def plot_loss(card: ScoreCard, path: Path) -> str:
    """Lost datagrams per server: the truth beside the collector's estimate."""
    per: dict[str, list[int]] = {}
    for r in card.loss:
        row = per.setdefault(r.server, [0, 0])
        row[0] += r.lost
        row[1] += r.estimated or 0
    top = sorted(per.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:MAX_LOSS_SERVERS]
    if not any(sum(v) for _, v in top):  # an empty chart reads as a broken plot: say it
        fig, ax = plt.subplots(figsize=(10, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "No loss: no datagram was lost on the path, and the collector estimated none.",
                ha="center", va="center", fontsize=11)
        return _save(fig, path)
    fig, ax = plt.subplots(figsize=(10, 1.5 + 0.28 * max(len(top), 3)))
    ys = range(len(top))
    ax.barh([y - 0.2 for y in ys], [v[0] for _, v in top], height=0.4, color="#444", label="lost (truth)")
    ax.barh([y + 0.2 for y in ys], [v[1] for _, v in top], height=0.4, color="#ff7f0e", label="lost (collector estimate)")
    ax.set_yticks(list(ys))
    ax.set_yticklabels([s for s, _ in top], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("datagrams")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Datagram loss per server")
    return _save(fig, path)


def plot_anomalies(card: ScoreCard, path: Path) -> str:
    """Sites with a fault or a detection: faults as shaded spans, detections as bars."""
    # a detection of every site (collector_outage, site "*") is drawn on each faulted site's row
    hit = {d.site for d in card.detections if d.site != "*"} | {s for f in card.faults for s in f.sites}
    sites = sorted(hit or ({"*"} if card.detections else set()))[:MAX_HEATMAP_SITES]
    row = {s: i for i, s in enumerate(sites)}
    fig, ax = plt.subplots(figsize=(10, 1.8 + 0.3 * max(len(sites), 3)))
    for f in card.faults:
        for s in f.sites:
            if s in row:
                start, end = mdates.date2num(_times([f.start, max(f.end, f.start + 60)]))
                ax.barh(row[s], end - start, left=start, height=0.8, color="#1f77b4", alpha=0.3)
    for d in card.detections:
        start, end = mdates.date2num(_times([d.start, max(d.end, d.start + 60)]))
        for s in (sites if d.site == "*" else [d.site]):
            if s in row:
                ax.barh(row[s], end - start, left=start, height=0.35, color="#d62728")
    t0, t1 = mdates.date2num(_times([card.series.bins.t0, card.series.bins.edges()[-1]]))
    ax.set_xlim(t0, t1)
    ax.xaxis_date()
    _time_axis(ax)
    ax.set_yticks(range(len(sites)))
    ax.set_yticklabels(sites, fontsize=7)
    ax.invert_yaxis()
    ax.set_title("Injected faults (blue spans) and anomalies detected (red bars)")
    return _save(fig, path)


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path.name


#: file name → (drawing function, caption).
PLOTS: dict[str, tuple[Callable[[ScoreCard, Path], str], str]] = {
    "volume.png": (plot_volume, "Monitored bytes vs payload inverted from NIC counters, per time bin"),
    "bytes_scatter.png": (plot_scatter, "Per transfer: true bytes vs recorded bytes"),
    "agreement_heatmap.png": (plot_heatmap, "Agreement per site and time bin"),
    "loss.png": (plot_loss, "Datagram loss per server: truth vs the collector's estimate"),
    "anomalies.png": (plot_anomalies, "Ratio anomalies detected against injected faults"),
}


def render_plots(card: ScoreCard, out_dir: Path) -> list[tuple[str, str]]:
    """Draw every plot into ``out_dir``; returns (file name, caption) pairs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [(draw(card, out_dir / name), caption) for name, (draw, caption) in PLOTS.items()]


__all__ = ["PLOTS", "render_plots"]
