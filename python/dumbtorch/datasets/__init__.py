"""dt.datasets: MNIST and FashionMNIST read from their idx files."""

from .mnist import FASHION_MNIST_ROOT, MNIST, DatasetFileError, FashionMNIST

__all__ = ["MNIST", "FashionMNIST", "DatasetFileError", "FASHION_MNIST_ROOT"]
