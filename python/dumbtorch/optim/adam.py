"""dt.optim.Adam and AdamW: PyTorch's single-tensor update, operation for operation."""

from __future__ import annotations


from .. import _C
from .optimizer import Optimizer, _add_scaled, _lerp_, _no_grad_step


class Adam(Optimizer):
    """Per parameter, at step t (bias corrections in Python floats, as PyTorch):

        g = g + weight_decay * p            (Adam; AdamW instead does p = p * (1 - lr * wd))
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v) / sqrt(1 - beta2^t) + eps   (amsgrad: max of all v so far)
        p = p - lr / (1 - beta1^t) * m / denom
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused=None,
                 decoupled_weight_decay: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
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
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
            decoupled = group.get("decoupled_weight_decay", False)
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = dt.tensor(0.0, dtype=_C.float32)
                    state["exp_avg"] = dt.zeros_like(p)
                    state["exp_avg_sq"] = dt.zeros_like(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = dt.zeros_like(p)
                if maximize:
                    grad = -grad
                exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                step_t += 1
                if weight_decay != 0:
                    if decoupled:
                        p.mul_(1 - lr * weight_decay)
                    else:
                        grad = _add_scaled(grad, p, weight_decay)
                _lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq.mul_(beta2)
                exp_avg_sq.add_(grad * (1 - beta2) * grad)
                if _C._is_tracing():
                    # The step count is state: in a compiled step the corrections are tensor math
                    # (in f64, like Python floats), so one trace serves every step.
                    step = step_t.to(_C.float64)
                else:
                    step = step_t.item()
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2**0.5
                if amsgrad:
                    mx = state["max_exp_avg_sq"]
                    mx.copy_(_C.maximum(mx, exp_avg_sq))
                    denom = mx.sqrt() / bias_correction2_sqrt + eps
                else:
                    denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + eps
                p.add_(exp_avg * -step_size / denom)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (p = p * (1 - lr * weight_decay) before the update);
    weight_decay defaults to 1e-2 as PyTorch."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False, foreach=None,
                 capturable: bool = False, differentiable: bool = False, fused=None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
