r"""The data of chapter 8's worked model: generated images with a known truth, the real
handwritten digits, and the check every image passes at the model's boundary.

* :func:`make_parts_data`: binary images of :math:`P` parts (for example the four
  :math:`4 \times 4` quadrants of an :math:`8 \times 8` image). For every part there are
  :math:`K` random prototype patterns; an image picks one prototype per part, uniformly and
  independently, and then flips every pixel with probability :math:`\varepsilon`. The data
  therefore *has* :math:`P` categorical causes with :math:`K` values each, and its exact
  log-likelihood is known (:func:`true_log_likelihood`), a floor for every model's loss.
* :func:`load_binary_digits`: scikit-learn's 1,797 handwritten digits (8 x 8 pixels with
  grey levels 0 to 16, shipped inside the package: nothing is downloaded), binarised.
* :func:`binary_images`: what the model accepts, checked once at the boundary: a float64
  tensor ``(N, D)`` of 0s and 1s. Numpy arrays, bool and integer tensors are converted;
  grey levels, unflattened images and other types are refused with an error that names
  the argument and says what to do.

Every random draw comes from a CPU ``torch.Generator``. Needs only torch (and scikit-learn
for :func:`load_binary_digits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

__all__ = [
    "PartsData",
    "make_parts_data",
    "true_log_likelihood",
    "load_binary_digits",
    "binary_images",
]


@dataclass(frozen=True)
class PartsData:
    r"""A generated data set of binary images made of parts.

    Attributes:
        x: the images, float tensor ``(N, D)`` of 0s and 1s, rows flattened row-major from
            ``image_shape``.
        choices: which prototype each part uses, long tensor ``(N, P)``.
        prototypes: the patterns, float tensor ``(P, K, D)``: prototype ``k`` of part ``p``
            as a full image that is 0 outside the part.
        masks: ``(P, D)``, 1 on the pixels of part ``p``.
        flip: the bit-flip probability :math:`\varepsilon`.
        image_shape: ``(H, W)``.
    """

    x: torch.Tensor
    choices: torch.Tensor
    prototypes: torch.Tensor
    masks: torch.Tensor
    flip: float
    image_shape: Tuple[int, int]


def _part_masks(image_shape: Tuple[int, int], grid: Tuple[int, int]) -> torch.Tensor:
    h, w = image_shape
    gh, gw = grid
    if h % gh or w % gw:
        raise ValueError(f"image_shape {image_shape} is not divisible by the grid {grid}")
    masks = []
    for i in range(gh):
        for j in range(gw):
            m = torch.zeros(h, w)
            m[i * h // gh : (i + 1) * h // gh, j * w // gw : (j + 1) * w // gw] = 1.0
            masks.append(m.reshape(-1))
    return torch.stack(masks)


def make_parts_data(
    n: int,
    *,
    generator: torch.Generator,
    prototypes: Optional[torch.Tensor] = None,
    n_choices: int = 4,
    image_shape: Tuple[int, int] = (8, 8),
    grid: Tuple[int, int] = (2, 2),
    flip: float = 0.05,
    device: Optional[torch.device] = None,
) -> PartsData:
    r"""Draw ``n`` binary images: one random prototype per part, then bit-flip noise.

    The image of ``image_shape`` is cut into a ``grid`` of :math:`P` rectangular parts. Each
    part has :math:`K` = ``n_choices`` prototypes, random binary patterns (each pixel 0 or 1
    with probability 1/2, drawn once). An image chooses :math:`c_p \sim \mathcal U\{0..K-1\}`
    independently for every part, pastes the chosen patterns together, and flips each pixel
    independently with probability :math:`\varepsilon` = ``flip``.

    Pass the ``prototypes`` of an earlier call to draw more images (a test set) from the same
    distribution; otherwise new prototypes are drawn first.

    Args:
        n: number of images.
        generator: a CPU ``torch.Generator``; every draw comes from it.
        prototypes: ``(P, K, D)`` from an earlier :class:`PartsData`, or ``None``.
        n_choices: :math:`K`, prototypes per part (ignored when ``prototypes`` is given).
        image_shape: ``(H, W)``.
        grid: parts per column and per row; :math:`P` = ``grid[0] * grid[1]``.
        flip: :math:`\varepsilon \in [0, 1/2)`.
        device: where the tensors live (drawn on the CPU, then moved).

    Returns:
        A :class:`PartsData` in float64; ``x`` has shape ``(n, H * W)``.
    """
    if not 0.0 <= flip < 0.5:
        raise ValueError(f"flip must be in [0, 0.5), got {flip}")
    masks = _part_masks(image_shape, grid).to(torch.float64)
    n_parts, d = masks.shape
    if prototypes is None:
        bits = torch.rand(n_parts, n_choices, d, generator=generator, dtype=torch.float64) < 0.5
        protos = bits.to(torch.float64) * masks[:, None, :]
    else:
        protos = prototypes.detach().to("cpu", torch.float64)
        if protos.shape[0] != n_parts or protos.shape[2] != d:
            raise ValueError(
                f"prototypes of shape {tuple(protos.shape)} do not fit {n_parts} parts of "
                f"an image of {d} pixels"
            )
    k = protos.shape[1]
    choices = torch.randint(k, (n, n_parts), generator=generator)
    clean = protos[torch.arange(n_parts)[None, :], choices].sum(1)  # (n, D)
    noise = (torch.rand(n, d, generator=generator, dtype=torch.float64) < flip).to(torch.float64)
    x = (clean + noise) % 2
    return PartsData(
        x=x.to(device=device),
        choices=choices.to(device=device),
        prototypes=protos.to(device=device),
        masks=masks.to(device=device),
        flip=float(flip),
        image_shape=tuple(image_shape),
    )


def true_log_likelihood(data: PartsData, x: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""The exact :math:`\log p(x)` of images under the process that generated ``data``.

    Parts are independent, so
    :math:`\log p(x) = \sum_p \log \frac1K \sum_k \prod_{i \in p}
    \varepsilon^{[x_i \ne m_{pki}]}(1-\varepsilon)^{[x_i = m_{pki}]}`
    with :math:`m_{pk}` the prototypes. No model of this data can have a lower expected
    negative log-likelihood; it is the floor of the chapter's table.

    Args:
        data: the :class:`PartsData` whose prototypes and flip probability define the model.
        x: images ``(N, D)`` (default ``data.x``).

    Returns:
        ``(N,)`` log-likelihoods in nats, in float64.
    """
    x = (data.x if x is None else x).to(torch.float64)
    protos = data.prototypes.to(x.device, torch.float64)  # (P, K, D)
    masks = data.masks.to(x.device, torch.float64)  # (P, D)
    eps = data.flip
    if eps == 0.0:
        raise ValueError("true_log_likelihood needs flip > 0 (else it is -inf off the prototypes)")
    mismatch = (x[:, None, None, :] - protos[None]).abs() * masks[None, :, None, :]
    n_mismatch = mismatch.sum(-1)  # (N, P, K)
    n_pixels = masks.sum(-1)  # (P,)
    log_lik = n_mismatch * math.log(eps) + (n_pixels[None, :, None] - n_mismatch) * math.log1p(-eps)
    k = protos.shape[1]
    return (torch.logsumexp(log_lik, -1) - math.log(k)).sum(-1)


def load_binary_digits(threshold: int = 8) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""scikit-learn's 8 x 8 handwritten digits, binarised: :math:`x = [\text{pixel} \ge 8]`.

    The 1,797 images of ``sklearn.datasets.load_digits`` (grey levels 0 to 16; UCI's
    optical recognition of handwritten digits, shipped inside scikit-learn) become binary
    images, the kind of data the chapter's Bernoulli decoder models.

    Args:
        threshold: a pixel is 1 when its grey level is at least this.

    Returns:
        ``(x, labels)``: float64 ``(1797, 64)`` of 0s and 1s (rows are the images flattened
        row by row), and the int64 digit labels ``(1797,)`` (not used for training).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.data >= threshold).to(torch.float64)
    return x, torch.as_tensor(digits.target).to(torch.int64)


def binary_images(x, name: str = "x", *, n_pixels: Optional[int] = None) -> torch.Tensor:
    r"""``x`` as the model takes it: a float64 tensor ``(N, D)`` of 0s and 1s, or a clear error.

    Accepted: a torch tensor or a numpy array (or nested lists) of bool, integer or floating
    dtype whose entries are all 0 or 1, in shape ``(N, D)``. A tensor keeps its device; an
    array becomes a CPU tensor.

    Raises (every message names ``name`` and says what to do):
        TypeError: for data that is not numbers (strings, objects) or is complex.
        ValueError: for another number of dimensions (e.g. unflattened ``(N, 8, 8)``
            images), no images, a number of pixels other than ``n_pixels``, or entries other
            than 0 and 1 (grey levels, probabilities, NaN).

    Args:
        x: the images.
        name: the argument's name, for the messages.
        n_pixels: the number of pixels the model expects, or ``None``.

    Returns:
        A float64 tensor ``(N, D)``.
    """
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"{name} must be a torch tensor or a numpy array of 0s and 1s; got "
                f"{type(x).__name__} that torch cannot convert ({err})"
            ) from None
    if x.is_complex() or not (x.is_floating_point() or x.dtype == torch.bool or _is_int(x)):
        raise TypeError(
            f"{name} must hold real numbers 0 and 1 (bool, integer or floating dtype), "
            f"got dtype {x.dtype}"
        )
    if x.dim() != 2:
        hint = (
            f"; flatten each image first, e.g. {name}.reshape(len({name}), -1)"
            if x.dim() > 2
            else f"; for one image use {name}.reshape(1, -1)"
        )
        raise ValueError(
            f"{name} must have shape (N, D), one flattened image per row; got shape "
            f"{tuple(x.shape)}{hint}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} holds no images (shape {tuple(x.shape)})")
    if n_pixels is not None and x.shape[1] != n_pixels:
        raise ValueError(
            f"{name} has {x.shape[1]} pixels per image, but the model was built for {n_pixels}"
        )
    x = x.to(torch.float64)
    binary = (x == 0) | (x == 1)
    if not bool(binary.all()):
        bad = torch.unique(x[~binary])[:4].tolist()
        raise ValueError(
            f"{name} must hold only 0s and 1s (the model's pixels are Bernoulli); found "
            f"values such as {', '.join(f'{v:g}' for v in bad)}. Binarise grey levels first, "
            "e.g. (pixels >= 8) for scikit-learn's digits (grey levels 0 to 16)"
        )
    return x


def _is_int(x: torch.Tensor) -> bool:
    return not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool
