"""The training script the golden plans ship (never run by the plan tests)."""
from jupyter_hpo import trial

print(f"auc={0.5 + 0.0 * len(trial.hyperparameters())}")
