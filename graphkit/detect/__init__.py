"""Detection: groups acting together (rings, dense blocks, lockstep, linked accounts).

This package init stays light: it exposes the group-detection entry point;
the detectors live in their modules (``communities``, ``dense``, ``lockstep``,
``identity``, ``rings``) and the rating/text detectors in theirs.

Examples
--------
>>> from graphkit.detect import detect_groups, DetectParams
>>> DetectParams().min_score
0.3
"""

from __future__ import annotations

from graphkit.detect.rings import GROUP_KINDS, DetectParams, GroupDetection, detect_groups

__all__ = ["GROUP_KINDS", "DetectParams", "GroupDetection", "detect_groups"]
