"""relaxlib: differentiable relaxations and reparameterisations in PyTorch.

The library of the course book *Differentiate Almost Everywhere*. Everything public is
importable from the top level::

    import relaxlib as rl
    rl.soft_argmax(torch.tensor([1.1, 4.0, -0.1, 2.3]), temperature=0.2)

``import relaxlib`` needs only torch. The book's own code (toy problems, figures, widgets,
exercise checkers) lives in the separate package ``dae_course``, which imports relaxlib.
"""

from .devices import default_device
from .estimators import reinforce_surrogate
from .perturbed import perturbed_argmax
from .relaxations import (
    huber,
    one_hot_argmax,
    smooth_l1,
    soft_argmax,
    soft_max,
    softmax,
    softplus,
)
from .sampling import (
    gumbel_max_sample,
    gumbel_noise,
    gumbel_softmax,
    gumbel_topk,
    normal_rsample,
    relaxed_bernoulli_rsample,
)
from .sparse import entmax15, sparsemax
from .straight_through import st_argmax, st_one_hot_argmax, stop_gradient, straight_through

__version__ = "0.1.0"

__all__ = ["softplus", "softmax", "soft_argmax", "soft_max", "one_hot_argmax", "huber"]
__all__ += ["smooth_l1", "stop_gradient", "straight_through", "st_argmax", "st_one_hot_argmax"]
__all__ += ["normal_rsample", "gumbel_noise", "gumbel_max_sample", "gumbel_softmax"]
__all__ += ["reinforce_surrogate", "default_device"]
__all__ += ["sparsemax", "entmax15", "relaxed_bernoulli_rsample", "gumbel_topk"]
__all__ += ["perturbed_argmax"]
