"""dt.optim.RMSprop: PyTorch's single-tensor update (alpha, eps, weight_decay, momentum, centered)."""

from __future__ import annotations

from .. import _C
from .optimizer import Optimizer, _add_scaled, _lerp_, _no_grad_step


class RMSprop(Optimizer):
    """Per parameter:

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - mean_g^2) (centered, mean_g = lerp(mean_g, g, 1 - alpha)) | sqrt(v), then + eps
        momentum > 0: buf = momentum * buf + g / avg; p = p - lr * buf
        else:         p = p - lr * g / avg
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, capturable: bool = False, foreach=None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    @_no_grad_step
    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        import dumbtorch as dt

        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
            maximize = group["maximize"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = dt.tensor(0.0, dtype=_C.float32)
                    state["square_avg"] = dt.zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = dt.zeros_like(p)
                    if centered:
                        state["grad_avg"] = dt.zeros_like(p)
                if maximize:
                    grad = -grad
                square_avg = state["square_avg"]
                state["step"] += 1
                if weight_decay != 0:
                    grad = _add_scaled(grad, p, weight_decay)
                square_avg.mul_(alpha)
                square_avg.add_(grad * (1 - alpha) * grad)
                if centered:
                    grad_avg = state["grad_avg"]
                    _lerp_(grad_avg, grad, 1 - alpha)
                    avg = (square_avg - grad_avg * grad_avg).sqrt()
                else:
                    avg = square_avg.sqrt()
                avg = avg + eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(momentum)
                    buf.add_(grad / avg)
                    p.add_(buf * -lr)
                else:
                    p.add_(grad * -lr / avg)
        return loss
