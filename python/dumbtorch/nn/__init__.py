"""dt.nn: neural-network building blocks. ``dt.nn.functional`` holds the functional forms."""

from . import functional

__all__ = ["functional"]

# Issue 4: modules, parameters, layers, losses and initialisers.
from . import init
from .module import Module
from .modules import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, Flatten, GELU, Identity, L1Loss, LeakyReLU,
    Linear, LogSoftmax, ModuleDict, ModuleList, MSELoss, NLLLoss, ReLU, Sequential, Sigmoid, Softmax, Tanh,
)
from .parameter import Buffer, Parameter

__all__ += [
    "init", "Module", "Parameter", "Buffer", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout",
    "Embedding", "Flatten", "GELU", "Identity", "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "ModuleDict",
    "ModuleList", "MSELoss", "NLLLoss", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
]
