"""Preliminary themes before a codebook exists: cluster, label, group, adopt."""

from __future__ import annotations

from .adopt import Adoption, adopt, adopt_from_draft, theme_suggestions
from .build import MIN_UNITS, Theme, ThemeGroup, ThemeOptions, ThemeRun, adopted_themes, current_adoptions, find_themes
from .clustering import NO_THEME, ClusterOptions, Clustering, cluster
from .listing import draft_codebook, listing, theme_rows, write_draft

__all__ = [
    "MIN_UNITS", "NO_THEME", "Adoption", "ClusterOptions", "Clustering", "Theme", "ThemeGroup", "ThemeOptions", "ThemeRun",
    "adopt", "adopt_from_draft", "adopted_themes", "cluster", "current_adoptions", "draft_codebook", "find_themes", "listing", "theme_rows",
    "theme_suggestions", "write_draft",
]
