"""The pages' Jinja2 environment and the few formats every page shares."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
templates = Jinja2Templates(directory=TEMPLATES)


def clock(ms: float | None) -> str:
    """Milliseconds as m:ss (h:mm:ss from an hour): how a player shows a moment."""
    if ms is None:
        return ""
    seconds = int(ms // 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def band(score: float | None) -> str:
    """A score's band for its colour (the number is always shown too)."""
    if score is None:
        return "none"
    return "low" if score < 40 else "high" if score >= 70 else "mid"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


templates.env.filters.update(clock=clock, band=band, when=when)
