"""kin's exceptions.

Every error kin raises is a ``KinError``, and also the built-in exception a Python caller
already catches for that kind of failure, so ``except ValueError`` around code written for
sentence-transformers or pymilvus keeps working. The message is always kin's own.
"""

from __future__ import annotations

__all__ = [
    "KinError",
    "InvalidInputError",
    "FilterError",
    "NotFoundError",
    "ModelNotFoundError",
    "ModelError",
    "CollectionNotFoundError",
    "CollectionExistsError",
    "StoreError",
]


class KinError(Exception):
    """Base class of every error kin raises."""


class InvalidInputError(KinError, ValueError):
    """Bad arguments: a wrong dtype or shape, NaN, a bad name or setting."""


class FilterError(InvalidInputError):
    """A filter expression that does not parse."""


class NotFoundError(KinError, FileNotFoundError):
    """A file the caller named is not there."""


class ModelNotFoundError(NotFoundError):
    """No model by that name or path, or one that cannot be fetched (offline, say)."""


class ModelError(KinError, OSError):
    """A model that exists but cannot be loaded or run (damaged weights, a failing API)."""


class CollectionNotFoundError(KinError, ValueError):
    """No collection by that name."""


class CollectionExistsError(KinError, ValueError):
    """A collection by that name exists already."""


class StoreError(KinError, OSError):
    """The store on disk: I/O, damage, or a lock held by another process."""
