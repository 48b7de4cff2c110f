"""The attack base class: one public ``__call__`` that owns the contract.

A concrete attack is a frozen dataclass of hyperparameters that writes only
:meth:`Attack._perturb`. Everything that must hold for *every* attack lives here:

- inputs are checked once, with :mod:`synthaug.data.validation` (shape, range,
  finiteness), and the labels against the model's logits;
- the model is put in eval mode and every submodule's mode is restored afterwards,
  also when the attack raises;
- gradients flow to the input only (``torch.autograd.grad`` with respect to the images),
  so no parameter's ``.grad`` is written and ``requires_grad`` flags are left alone;
- the result is projected into the eps-ball around the clean images and clamped to
  ``[0, 1]``;
- numpy in gives numpy out, a tensor in gives a tensor out (same device and dtype).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.validation import check_images, check_labels
from ..exceptions import ConfigError, InvalidDataError

__all__ = ["Attack", "NORMS", "project"]

NORMS = ("linf", "l2")


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project ``x_adv`` into the ``norm`` ball of radius ``eps`` around ``x``, then into [0, 1].

    Clamping to [0, 1] after the ball projection can only shrink each coordinate of the
    perturbation (``x`` itself lies in [0, 1]), so the result stays inside the ball.

    Shape
    -----
    x_adv, x : ``(N, C, H, W)``; returns the same shape.
    """
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        norms = delta.flatten(1).norm(p=2, dim=1)  # (N,)
        factor = torch.clamp(eps / norms.clamp_min(1e-12), max=1.0)
        delta = delta * factor.view(-1, 1, 1, 1)
    return (x + delta).clamp(0.0, 1.0)


@dataclass(frozen=True)
class Attack:
    """Base class of evasion attacks in pixel space.

    Parameters
    ----------
    eps : float
        Radius of the perturbation ball, in ``[0, 1]`` pixel units for the L-inf norm
        (``8/255`` is eight grey levels). ``0`` returns the clean images.

    Notes
    -----
    Call an attack as ``attack(model, images, labels)``. ``model`` is a
    :class:`torch.nn.Module` mapping images in ``[0, 1]`` to logits (its input
    normalisation belongs inside its ``forward``). Subclasses implement
    :meth:`_perturb` only.
    """

    eps: float

    #: Norm of the ball the output is projected into; subclasses with a ``norm`` field override it.
    norm = "linf"
    #: The attack's name in :mod:`synthaug.attacks.registry` (written by :meth:`to_config`).
    config_name = ""

    def __post_init__(self) -> None:
        self._check_params()

    def to_config(self) -> dict[str, Any]:
        """The attack as plain JSON: ``{"name": <registry name>, **hyperparameters}``.

        A ``random_state`` that is not an integer (a numpy Generator) is written as
        ``None``. :func:`~synthaug.attacks.attack_from_config` rebuilds the attack.

        Examples
        --------
        >>> from synthaug.attacks import FGSM
        >>> FGSM(eps=0.5).to_config()
        {'name': 'fgsm', 'eps': 0.5}
        """
        params = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.generic):
                value = value.item()
            params[f.name] = value
        if "random_state" in params and (isinstance(params["random_state"], bool)
                                         or not isinstance(params["random_state"], int)):
            params["random_state"] = None
        return {"name": self.config_name or type(self).__name__.lower(), **params}

    # ----------------------------------------------------------------- hooks
    def _check_params(self) -> None:
        """Validate hyperparameters; subclasses extend it (call ``super()._check_params()``)."""
        eps = self.eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)):
            raise ConfigError(f"{type(self).__name__}: eps must be a number, got {eps!r}.")
        if not math.isfinite(float(eps)) or float(eps) < 0:
            raise ConfigError(
                f"{type(self).__name__}: eps must be a finite number >= 0, got {eps!r}. "
                "Use e.g. eps=8/255 for eight grey levels."
            )
        if self.norm not in NORMS:
            raise ConfigError(
                f"{type(self).__name__}: norm must be one of {NORMS}, got {self.norm!r}."
            )

    def _perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return adversarial images for clean images ``x`` and labels ``y``.

        Called in eval mode with checked inputs; the base class projects the result.

        Shape
        -----
        x : ``(N, C, H, W)`` float32 in [0, 1] on the model's device.
        y : ``(N,)`` int64.
        returns : ``(N, C, H, W)``.
        """
        raise NotImplementedError

    # ----------------------------------------------------------------- helpers for subclasses
    @staticmethod
    def _loss_and_grad(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample cross-entropy, its gradient w.r.t. ``x`` and the logits.

        Only the input receives a gradient: parameters' ``.grad`` stay untouched.

        Shape
        -----
        returns : loss ``(N,)``, grad ``(N, C, H, W)``, logits ``(N, K)``.
        """
        x = x.detach().requires_grad_(True)
        logits = model(x)  # (N, K)
        loss = F.cross_entropy(logits, y, reduction="none")  # (N,)
        # Summing keeps each sample's gradient independent of the batch size.
        (grad,) = torch.autograd.grad(loss.sum(), x)
        return loss.detach(), grad.detach(), logits.detach()

    # ----------------------------------------------------------------- public contract
    def __call__(self, model: nn.Module, images: Any, labels: Any) -> Any:
        """Craft adversarial examples.

        Parameters
        ----------
        model : torch.nn.Module
            Maps ``(N, C, H, W)`` images in [0, 1] to logits ``(N, K)``.
        images : ndarray or Tensor of shape (N, C, H, W)
            Clean images, float in [0, 1].
        labels : ndarray or Tensor of shape (N,)
            True classes as indices into the model's logits.

        Returns
        -------
        ndarray or Tensor of shape (N, C, H, W)
            Adversarial images, of the same type as ``images`` (numpy float32, or a
            tensor on the input's device with its dtype), inside the eps-ball and [0, 1].
        """
        if not isinstance(model, nn.Module):
            raise ConfigError(
                f"{type(self).__name__}: model must be a torch.nn.Module returning logits, got "
                f"{type(model).__name__}. Wrap scikit-learn models with a surrogate network."
            )
        device = _model_device(model)
        as_numpy = not isinstance(images, torch.Tensor)
        x = self._check_images(images).to(device)
        y = self._check_labels(labels, x.shape[0]).to(device)
        if x.shape[0] == 0:
            return images.copy() if as_numpy else images.clone()

        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            with torch.enable_grad():
                self._check_logits(model, x[:1], y)
                x_adv = self._perturb(model, x, y)
            x_adv = project(x_adv.detach(), x, float(self.eps), self.norm)
        finally:
            for module, mode in modes:
                module.training = mode

        if as_numpy:
            return x_adv.cpu().numpy().astype(np.float32, copy=False)
        return x_adv.to(device=images.device, dtype=images.dtype)

    # ----------------------------------------------------------------- checks
    def _check_images(self, images: Any) -> torch.Tensor:
        """The images as a float32 tensor, checked by :func:`~synthaug.data.validation.check_images`.

        A tensor is checked through a CPU numpy view of its values (integer tensors are
        refused) and then used as it is, on its own device.
        """
        name = type(self).__name__
        if isinstance(images, torch.Tensor):
            x = images.detach()
            view = x.float() if x.dtype == torch.bfloat16 else x  # numpy has no bfloat16
            check_images(view.cpu().numpy(), f"{name}: images", owner=name, channels=None, min_images=0)
            return x.to(torch.float32)
        arr = check_images(images, f"{name}: images", owner=name, channels=None, min_images=0,
                           allow_unit_integers=True)
        return torch.from_numpy(arr)

    def _check_labels(self, labels: Any, n: int) -> torch.Tensor:
        """Class indices ``(n,)`` int64, checked by :func:`~synthaug.data.validation.check_labels`."""
        y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
        return torch.from_numpy(check_labels(y, n, f"{type(self).__name__}: labels", class_indices=True))

    def _check_logits(self, model: nn.Module, x1: torch.Tensor, y: torch.Tensor) -> None:
        with torch.no_grad():
            out = model(x1)
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(
                f"{type(self).__name__}: the model must return logits of shape (N, K), got {shape}."
            )
        k = out.shape[1]
        if int(y.max()) >= k:
            raise InvalidDataError(
                f"{type(self).__name__}: labels go up to {int(y.max())} but the model returns "
                f"{k} logits; labels must be indices into the model's outputs."
            )
