"""The budget that the experiments and the benchmark share: how many sentences
to train, select and test on, and how long to train."""
from dataclasses import dataclass, fields
from typing import Any, Dict


@dataclass(kw_only=True)
class Budget:
    """Settings of a run's data and training budget; experiment and benchmark
    settings extend it. Keyword-only, so that the settings that extend it keep
    their own positional fields first.

    n_train (int): First N training sentences per training language; 0 for all.
    n_dev (int): First N dev sentences per training language; 0 for all.
    n_test (int): First N test sentences per test language; 0 for all.
    epochs (float): Passes over the training sentences; sets the number of steps.
    """

    n_train: int = 2000
    n_dev: int = 300
    n_test: int = 1000
    epochs: float = 2.0

    def __post_init__(self):
        for name in ("n_train", "n_dev", "n_test"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of sentences, 0 for all, not {value!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, float)) or not self.epochs > 0:
            raise ValueError(f"epochs must be a positive number, not {self.epochs!r}")

    def budget(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): The budget fields alone, by name, to pass
        on to other settings."""
        return {f.name: getattr(self, f.name) for f in fields(Budget)}
