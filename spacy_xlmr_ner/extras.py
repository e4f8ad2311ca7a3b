"""Optional dependencies: each comes with an extra of the package, and a
missing one says which extra to install."""
import importlib
import importlib.util
from types import ModuleType
from typing import Optional, Sequence


class MissingExtra(ImportError):
    """An optional dependency is not installed."""


def install_line(extra: str) -> str:
    """The command that installs an extra.

    extra (str): The extra, e.g. "package".
    RETURNS (str): `pip install "spacy-xlmr-ner[EXTRA]"`.
    """
    return f'pip install "spacy-xlmr-ner[{extra}]"'


def import_extra(
    name: str,
    extra: str,
    purpose: str,
    package: Optional[str] = None,
    *,
    provides: Sequence[str] = (),
    anchor: Optional[str] = None,
) -> ModuleType:
    """Import an optional dependency, or fail with the extra that installs it.

    name (str): The module, e.g. "matplotlib.pyplot", or a module of this
        package that needs the extra (".app", with `anchor`).
    extra (str): The extra that installs it, e.g. "package".
    purpose (str): What needs it, for the message ("Drawing the learning curve").
    package (Optional[str]): The name to install it by, where it differs from
        the top-level module's ("protobuf" for "google.protobuf").
    provides (Sequence[str]): The top-level modules the extra brings, where
        `name` is not one of them; by default `name`'s own.
    anchor (Optional[str]): The package a relative `name` is imported from.
    RETURNS (ModuleType): The module.
    """
    try:
        return importlib.import_module(name, anchor)
    except ModuleNotFoundError as err:
        missing = (err.name or "").partition(".")[0]
        if missing not in (provides or (name.partition(".")[0],)):
            raise  # the package is there but broken: its own error says more
        raise MissingExtra(
            f"{purpose} needs {package or missing}, which is not installed: {install_line(extra)}", name=missing
        ) from err


def require_extra(name: str, extra: str, purpose: str) -> None:
    """Check that an optional dependency is installed, without importing it
    (for packages run as a command, such as `build`).

    name (str): The top-level module, e.g. "build".
    extra (str): The extra that installs it.
    purpose (str): What needs it, for the message.
    """
    if importlib.util.find_spec(name) is None:
        raise MissingExtra(f"{purpose} needs {name}, which is not installed: {install_line(extra)}", name=name)
