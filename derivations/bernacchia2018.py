"""Bernacchia, Lengyel & Hennequin 2018: exact natural gradient in deep linear networks, derived by lindyn,
and the practical online algorithm of their Sec. 5 against SGD.

    python derivations/bernacchia2018.py OUTDIR [--thorough]

writes into OUTDIR
  bernacchia2018.tex             derived mode ODEs and solutions of NGD, block NGD (K-FAC's exact factors),
                                 the per-layer rule (block NGD ÷ L) and the power-q families;
  bernacchia2018_rules.png       every rule on one problem (L = 3, non-white input, small random init):
                                 excess loss and the weakest mode;
  bernacchia2018_deep.png        16 layers of width 5 (a scaled-down version of the paper's 16 layers of width 20):
                                 NGD and the per-layer rule converge as e^(−2t); GD sits on a plateau;
  bernacchia2018_bottleneck.png  with a bottleneck the per-layer rule is no longer exact NGD;
  bernacchia2018_online_linear.png  the paper's linear experiment (16 layers of width 20, biases, 40 epochs): test
                                 error of online NG and SGD (α = 0.02..0.08) against samples and wall-clock, with
                                 the exact NG flow and the noise floor (seed 0; --thorough: seeds 0, 1, 2);
  bernacchia2018_online_linear_wall.png  the same runs against wall-clock seconds of stepping;
  bernacchia2018_online_estimator.png  sampled Kronecker factors and update vs the exact ones: error ∝ samples^(−1/2);
  bernacchia2018_autoencoder.png online NG vs SGD on scikit-learn's digits autoencoder 64-48-32-16-8-16-32-48-64:
                                 test error against examples seen and against wall-clock (seed 0; --thorough:
                                 seeds 0, 1, 2); needs scikit-learn (pip install ".[digits]").

The experiments live in `lindyn.papers.bernacchia2018`; this script draws and writes them.
"""
from __future__ import annotations

import pathlib
import sys

from _script import draw, run  # derivations/_script.py, beside this file

from lindyn.papers import bernacchia2018 as paper
from lindyn.papers import bernacchia2018_autoencoder as auto
from lindyn.papers import bernacchia2018_online as online


def write(out: pathlib.Path, thorough: bool = False) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    (out / "bernacchia2018.tex").write_text(paper.formulas_tex())
    draw(paper.rules_panels(), out / "bernacchia2018_rules.png")
    deep, errors = paper.deep_panel()
    draw([deep], out / "bernacchia2018_deep.png")
    draw(paper.bottleneck_panels(), out / "bernacchia2018_bottleneck.png")
    def stage(text: str) -> None:
        print(f"bernacchia2018: {text} ...", file=sys.stderr, flush=True)

    stage("linear experiment (16 layers, NG and SGD at 4 α" + (", seeds 0, 1, 2)" if thorough else ", seed 0)"))
    linear = online.linear_experiment(online.THOROUGH_SEEDS if thorough else online.SEEDS, online.PAPER_EPOCHS)
    by_samples, by_wall = online.linear_panels(linear)
    draw([by_samples], out / "bernacchia2018_online_linear.png", legend_outside=True)
    draw([by_wall], out / "bernacchia2018_online_linear_wall.png", legend_outside=True)
    stage("estimator convergence")
    draw([online.estimator_panel(online.estimator_convergence())], out / "bernacchia2018_online_estimator.png")
    lin = "; ".join(f"seed {s}: NG at the noise floor after {linear.ng_steps_to_floor(s)} steps, best SGD "
                    f"{linear.best_sgd(s).name} ends at {linear.best_sgd(s).final_test_error(linear.n_train):.3g}"
                    for s in linear.seeds)
    seeds = auto.SEEDS if thorough else auto.SEEDS[:1]
    stage("digits autoencoder (NG and SGD, " + ("3 seeds)" if thorough else "seed 0)"))
    experiment = auto.autoencoder_experiment(seeds=seeds, probe_alphas=auto.PROBE_ALPHAS)
    draw(auto.autoencoder_panels(experiment), out / "bernacchia2018_autoencoder.png")
    best, ng = experiment.best_sgd, experiment.ng_arm(experiment.ng_batch)
    reach = [(experiment.run(ng, s).reach(experiment.target(s)), experiment.run(best, s).reach(experiment.target(s)))
             for s in seeds]
    return ("bernacchia2018: wrote formulas and 7 figures; 16-layer |ℓ/ℓ0 − e^(−2t)|: "
            + ", ".join(f"{k} {v:.1g}" for k, v in errors.items())
            + f"; linear task (40 epochs, noise floor {linear.noise_floor:.2g}): {lin}"
            + f"; autoencoder (seeds {', '.join(map(str, seeds))}): {ng} reaches {best}'s final test error after "
            + ", ".join(f"{a[0]:.0f} ex. / {a[1]:.2g} s (SGD {b[0]:.0f} ex. / {b[1]:.2g} s)" for a, b in reach))


if __name__ == "__main__":
    sys.exit(run("bernacchia2018", write, thorough="the practical experiments at the paper's full policy: "
                                                   "3 seeds (a few minutes)"))
