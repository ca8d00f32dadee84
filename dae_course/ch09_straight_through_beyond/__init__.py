"""Chapter 09's figures and exercise checkers (straight-through beyond arg max).

The chapter's algorithms (the straight-through quantisers, the quantised network and its
training loop, the VQ step, the exact means of the gradient estimators) are written on its
page, ``chapters/09_straight_through_beyond.ipynb``; this package only draws and checks.
"""
