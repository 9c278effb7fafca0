"""The weekly panels as a PNG, for a couple who asks for one and has the ``report`` extra (matplotlib).

The product draws its charts as SVG itself (:mod:`voicecoach.journal.charts`); this module only draws the same
:class:`~voicecoach.journal.charts.Panel` list with matplotlib, which is imported here and nowhere else.
"""

from __future__ import annotations

import io
from typing import Any

from ..errors import VoicecoachError
from .charts import Kind, Panel, nice_top

INSTALL_HINT = ("a PNG chart needs the 'report' extra (matplotlib, about 90 MB), which is not installed: "
                "install it with .venv/bin/pip install 'voicecoach[report]', or use --svg / --html, which need nothing")


def require() -> None:
    """Refuse a PNG before any work when matplotlib is not installed (found, not imported: that takes a second);
    :class:`VoicecoachError` with :data:`INSTALL_HINT`. An install found but broken is refused when drawing."""
    import importlib.util

    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise VoicecoachError(INSTALL_HINT)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise VoicecoachError(INSTALL_HINT) from None
    return plt


def panels_png(panels: list[Panel], title: str) -> bytes:
    """The panels stacked in one 900 x 1000 PNG (title and the weeks drawn as ``Description`` metadata)."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 10), dpi=100, sharex=True)
    try:
        for ax, panel in zip(axes, panels):
            _draw(ax, panel)
        labels = panels[0].labels
        step = max(1, -(-len(labels) // 16))  # at most 16 date labels
        axes[-1].set_xticks(list(range(len(labels)))[::step], labels[::step], rotation=45, ha="right")
        fig.suptitle(title)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Title": "voicecoach weekly trends",
                                                  "Description": f"weeks={len(labels)}; first={panels[0].weeks[0]}"})
    finally:
        plt.close(fig)
    return buf.getvalue()


def _draw(ax: Any, panel: Panel) -> None:
    from matplotlib.ticker import MaxNLocator

    bars = [s for s in panel.series if s.kind is Kind.BAR]
    x = list(range(len(panel.weeks)))
    width = 0.8 / (1 if panel.stacked else len(bars))
    bottom = [0.0] * len(x)
    handles = []
    for k, s in enumerate(bars):
        offset = 0.0 if panel.stacked else (k - (len(bars) - 1) / 2) * width
        handles.append(ax.bar([i + offset for i in x], s.values, width, bottom=bottom if panel.stacked else None,
                              label=s.label, color=s.color))
        if panel.stacked:
            bottom = [b + v for b, v in zip(bottom, s.values)]
    peak = max(bottom) if panel.stacked else max((v for s in bars for v in s.values), default=0.0)
    top = panel.y_max if panel.y_max is not None else nice_top(peak, panel.integer)[0]
    ax.set_ylim(0, top * 1.3)  # room for the legend
    if panel.integer:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for s in panel.series:
        if s.kind is Kind.LINE:
            ax2 = ax.twinx()
            (line,) = ax2.plot(x, s.values, "o-", color=s.color, label=s.label)
            ax2.set_ylim(0, nice_top(max(s.values, default=0.0), True)[0] * 1.3)
            ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax2.spines[["top"]].set_visible(False)
            handles.append(line)
    ax.set_title(panel.title)
    ax.legend(handles=handles, loc="upper left", ncol=3, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
