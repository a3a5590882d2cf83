"""Telegraph gene: a bimodal protein distribution that the ODE cannot show.

A promoter switching slowly between off and on (k_on = k_off = 0.05) makes cells either
silent or expressing: the protein histogram has two peaks, while the ODE predicts one value
(the mean). Writes telegraph.png / CSVs into ``examples-output/``.
Run: ``python examples/stochastic_telegraph.py``.
"""

import jax

jax.config.update("jax_enable_x64", True)

from msjax.stochastic import telegraph_demo  # noqa: E402

if __name__ == "__main__":
    summary = telegraph_demo("examples-output", n=5_000)
    assert summary["off_fraction"] > 0.1, "expected a peak at zero protein"
