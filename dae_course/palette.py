"""Colours shared by every chapter's figures."""

#: Colours used for the categories (indices 0, 1, 2, ...) in every chapter's figures.
CATEGORY_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
