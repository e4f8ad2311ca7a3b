"""Cross-lingual experiments (zero-shot, joint, all languages, train x test matrix) and their reports."""
from .run import Experiment, plan_steps, run_experiment, run_matrix  # noqa: F401
