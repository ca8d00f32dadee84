"""Small problems with exact answers, for measuring gradient estimators against the truth.

One module per chapter topic (``reparam``, ``reinforce``, ``gumbel``, ...): each gives a toy
objective, its exact expected loss and gradient (closed form or enumeration), and the
estimators the chapter compares. Needs only torch. Import explicitly, e.g.
``from relaxlib.toys import reinforce``.
"""
