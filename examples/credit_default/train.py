"""XGBoost on the credit-default data with stratified k-fold CV; prints ``auc=<mean ROC AUC>``.

One script for every backend: jupyter-hpo runs it in a warm local worker with the trial's
hyperparameters as ``--name value`` arguments, and a SageMaker training job runs it the same way.
Each fold's AUC is reported, so the k-fold pruners can stop a poor trial after its first folds
(`early_stopping: kfold_fast` in tuning.yaml, from the first fold; `kfold` from the second).
A trial saves its fold models (a list, one per fold) with ``trial.save_model``. In a refit
(``job.refit()``, ``trial.is_refit()``) it trains one model on the whole data set instead, saves it, and
prints that model's AUC on the data it was trained on (an in-sample figure, not a validation score).

    python examples/credit_default/train.py --max_depth 4 --eta 0.1
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from jupyter_hpo import trial

DATA = Path(__file__).resolve().parent / "data" / "default_of_credit_card_clients.csv.gz"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max_depth", type=int, default=4)
    p.add_argument("--eta", type=float, default=0.1, help="learning rate")
    p.add_argument("--num_round", type=int, default=150, help="boosting rounds")
    p.add_argument("--min_child_weight", type=float, default=1.0)
    p.add_argument("--subsample", type=float, default=0.8)
    p.add_argument("--colsample_bytree", type=float, default=0.8)
    p.add_argument("--reg_lambda", type=float, default=1.0)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--nthread", type=int, default=1, help="threads per trial (trials already run in parallel)")
    p.add_argument("--data", default=os.environ.get("SM_CHANNEL_TRAIN", str(DATA)),
                   help="a CSV(.gz) file, or a folder holding one (SageMaker's training channel)")
    return p.parse_args(argv)


def load(path: str) -> tuple[np.ndarray, np.ndarray]:
    p = Path(path)
    if p.is_dir():
        p = sorted(p.glob("*.csv*"))[0]
    df = pd.read_csv(p)
    X = df.drop(columns=[c for c in ("ID", "Y") if c in df.columns]).to_numpy(np.float32)
    return X, df["Y"].to_numpy()


def make_model(args: argparse.Namespace) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(
        n_estimators=args.num_round, max_depth=args.max_depth, learning_rate=args.eta,
        min_child_weight=args.min_child_weight, subsample=args.subsample,
        colsample_bytree=args.colsample_bytree, reg_lambda=args.reg_lambda,
        tree_method="hist", n_jobs=args.nthread, random_state=0,
    )


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    X, y = trial.cached(f"credit-default:{args.data}", lambda: load(args.data))
    if trial.is_refit():  # the best parameters once more: one model on all the data
        model = make_model(args).fit(X, y)
        trial.save_model(model)
        auc = roc_auc_score(y, model.predict_proba(X)[:, 1])
        print(f"auc={auc:.10f}", flush=True)
        return auc
    cv = trial.folds(X, y, k=args.folds, stratified=True, seed=0)
    models = []
    for train_idx, valid_idx in cv:
        model = make_model(args).fit(X[train_idx], y[train_idx])
        models.append(model)
        cv.report(roc_auc_score(y[valid_idx], model.predict_proba(X[valid_idx])[:, 1]))
    if trial.in_trial():  # run by hand, there is no artifact folder
        trial.save_model(models)
    print(f"auc={cv.mean:.6f} auc_std={cv.std:.6f}", flush=True)
    return cv.mean


if __name__ == "__main__":
    main()
