"""paddle.regularizer: L2Decay adds coeff * p to a parameter's gradient (after clipping, as Paddle)."""
from __future__ import annotations

from typing import Any

import hakl


class L2Decay:
    def __init__(self, coeff: float = 0.0):
        self.coeff = float(coeff)

    def __call__(self, param: Any, grad: Any) -> Any:
        """grad + coeff * param, on their device."""
        if not self.coeff:
            return grad
        return hakl.add(grad, hakl.multiply(param, self.coeff))

    def __repr__(self) -> str:
        return f"L2Decay(coeff={self.coeff})"


__all__ = ["L2Decay"]
