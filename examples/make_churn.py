"""Write examples/data/churn.csv: a synthetic, seeded bank/telecom churn table.

Run `python examples/make_churn.py` to regenerate it byte for byte. Churn depends on the
contract, tenure, monthly charges, support calls, internet type and age group, with noise;
about a quarter of the customers churn, and some cells are empty on purpose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 1500
SEED = 7


def make_churn(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], rows, p=[0.55, 0.25, 0.2])
    internet = rng.choice(["dsl", "fiber", "none"], rows, p=[0.35, 0.45, 0.2])
    methods = ["card", "bank-transfer", "e-check", "mail"]
    payment = rng.choice(methods, rows, p=[0.3, 0.25, 0.3, 0.15])
    senior = (rng.random(rows) < 0.18).astype(int)
    tenure = rng.integers(1, 73, rows)
    monthly = np.round(rng.normal(65, 25, rows).clip(18, 120), 2)
    calls = rng.poisson(1.5, rows)
    score = (
        -1.2
        + 1.6 * (contract == "month-to-month")
        - 1.2 * (contract == "two-year")
        - 0.045 * tenure
        + 0.025 * (monthly - 65)
        + 0.45 * calls
        + 0.6 * (internet == "fiber")
        + 0.5 * (payment == "e-check")
        + 0.4 * senior
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-score))
    frame = pd.DataFrame({
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": np.round(monthly * tenure * rng.uniform(0.9, 1.1, rows), 1),
        "support_calls": calls,
        "senior": senior,
        "contract": contract,
        "internet": internet,
        "payment_method": payment,
        "churned": np.where(churned, "yes", "no"),
    })
    gaps = {"monthly_charges": 0.03, "total_charges": 0.04, "payment_method": 0.05}
    for column, share in gaps.items():
        frame.loc[rng.random(rows) < share, column] = np.nan
    return frame


if __name__ == "__main__":
    out = Path(__file__).parent / "data" / "churn.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    make_churn().to_csv(out, index=False)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
