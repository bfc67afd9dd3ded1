"""Training losses: the regression losses in pixel space and the GAN's adversarial and
texture terms. Pixels (B, C, H, W) in [0, 1]; every loss returns a scalar."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from qgac_cli.choices import LOSSES
from qgac_cli.evaluate.metrics import ssim
from qgac_cli.model.discriminator import gram


def psnr_loss(restored: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over patches of 10·log10(MSE): minimizing it maximizes the mean PSNR.

    L2 over the batch weighs a patch by its squared error, so the q10 patches (errors ~50×
    those at q90) drive the gradient and the high qualities are neglected; here every patch
    counts by its decibels, as `qgac eval` averages them. The floor (1e-8, 80 dB) keeps a
    perfect patch finite.
    """
    mse = (restored - target).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(mse + 1e-8).mean()


PIXEL_LOSSES = dict(zip(LOSSES, (F.l1_loss, F.mse_loss, psnr_loss)))  # in choices.LOSSES order


def pixel_loss(restored: torch.Tensor, target: torch.Tensor, ssim_weight: float, norm: str = "l1") -> torch.Tensor:
    """L1, L2 or −PSNR, − ssim_weight · SSIM, in pixel space; the SSIM term is skipped at weight 0."""
    loss = PIXEL_LOSSES[norm](restored, target)
    return loss - ssim_weight * ssim(restored, target).mean() if ssim_weight else loss


def relativistic_losses(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Relativistic average GAN: (discriminator loss, generator loss) from logits."""
    bce = F.binary_cross_entropy_with_logits
    d_real, d_fake = real - fake.mean(), fake - real.mean()
    d_loss = (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))) / 2
    g_loss = (bce(d_real, torch.zeros_like(d_real)) + bce(d_fake, torch.ones_like(d_fake))) / 2
    return d_loss, g_loss


def texture_loss(fake_features: list[torch.Tensor], real_features: list[torch.Tensor]) -> torch.Tensor:
    """Gram-matrix (style) distance on the discriminator's features: our stand-in for the
    paper's MINC texture loss, which needs a pretrained network we cannot ship."""
    return sum(F.l1_loss(gram(f), gram(r.detach())) for f, r in zip(fake_features, real_features))
