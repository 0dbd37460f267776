"""Kerekes, Mészáros & Huszár 2021: natural gradient flow in function space, derived by lindyn.

    python derivations/kerekes2021.py OUTDIR

writes into OUTDIR
  kerekes2021.tex                     the derived function-space flows (logistic and squared loss) and their
                                      solutions; the reduction ḟ = −D⁻¹∇_fℓ checked symbolically;
  kerekes2021_classification.png      GD vs NGF (full-Fisher NGD, Bernoulli output Fisher) at depths 1-4 on
                                      separable data, n ≤ d and n > d: cosine to the max-margin direction and
                                      to X⁺ᵀy, and normalised margin, over time;
  kerekes2021_outside_span.png        n ≤ d: the part of w outside the data span at the end of training, by
                                      depth and init scale, GD vs NGF;
  kerekes2021_completion.png          deep matrix completion (8x8, rank 1, 33 of 64 observed): error on the
                                      unobserved entries and effective rank against depth and init scale for
                                      GD, function-space NGF (model Fisher) and MP NGD with the data Fisher;
  kerekes2021_singular_values.png     singular values of W(t) under GD at depths 1-4 and the NGD variants;
  kerekes2021_tanh.png                a tanh net under NGF: training outputs against f = y + e^{−t}(f0 − y)
                                      when wide, and the deviation against width (breaks for P < n).

Uses only lindyn's public API (plus numpy). Takes about a minute on one core.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # many small SVDs: threads only add contention

import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lindyn import (arora_singular_value_check, derive_reduction, function_space_trajectory,  # noqa: E402
                    low_rank_problem, max_margin_direction, run_classifier, run_completion, run_tanh, separable_data,
                    tanh_task)

#: Figure size in inches and resolution.
FIGSIZE, DPI = (12.0, 6.5), 110
DEPTH_COLORS = {1: "tab:blue", 2: "tab:orange", 3: "tab:green", 4: "tab:red"}
VARIANT_STYLE = {"gd": ("GD", "tab:blue", "o-"), "ngf": ("NGF: function-space (model Fisher)", "tab:red", "s--"),
                 "ngd-data": ("NGD: data Fisher, MP in parameters", "tab:purple", "^:")}


def write_latex(out: pathlib.Path) -> None:
    """Derived flows and solutions as one LaTeX file."""
    red = derive_reduction(2, 3)
    parts = [r"% Kerekes, Mészáros & Huszár 2021, derived by lindyn",
             r"\section*{Natural gradient flow in function space}",
             r"With $F = J^\top D J$ and $J$ of full row rank, any generalized inverse $G$ of $F$ gives "
             r"$J G J^\top = D^{-1}$, so $\dot f = -D^{-1}\nabla_f \ell$. Checked symbolically for a generic "
             rf"$2\times 3$ Jacobian: $FGF = F$: {red.generalized_inverse}; $JGJ^\top = D^{{-1}}$: {red.reduces}.",
             r"\subsection*{Logistic loss (labels $\pm 1$, margin $m = yf$)}",
             "\\[\n" + function_space_trajectory("logistic").latex() + "\n\\]",
             r"\subsection*{Squared loss}",
             "\\[\n" + function_space_trajectory("squared").latex() + "\n\\]"]
    (out / "kerekes2021.tex").write_text("\n\n".join(parts) + "\n")


def classification_figure(out: pathlib.Path) -> dict:
    """Cosines to the SVM and X⁺ᵀy directions and normalised margins over time."""
    cases = [(5, 10, "n = 5 ≤ d = 10"), (20, 5, "n = 20 > d = 5")]
    fig, axes = plt.subplots(2, 3, figsize=(FIGSIZE[0], 7.5), sharex=True)
    summary = {}
    for row, (n, d, label) in enumerate(cases):
        X, y = separable_data(n, d, seed=0)
        svm = max_margin_direction(X, y)
        for rule, T, style in (("gd", 1e4, "-"), ("ngf", 100.0, "--")):
            t = np.concatenate([[0.0], np.logspace(-2, np.log10(T), 60)])
            for L in (1, 2, 3, 4):
                r = run_classifier(X, y, L, rule, t, init_scale=0.5)
                summary[(label, rule, L)] = (float(r.cos_svm[-1]), float(r.cos_pinv[-1]),
                                             float(r.normalised_margin[-1]), float(r.outside_span[-1]), float(r.t[-1]))
                kw = dict(color=DEPTH_COLORS[L], ls=style, lw=1.6)
                axes[row, 0].plot(r.t[1:], r.cos_svm[1:], **kw)
                axes[row, 1].plot(r.t[1:], r.cos_pinv[1:], **kw)
                axes[row, 2].plot(r.t[1:], r.normalised_margin[1:], **kw)
        axes[row, 2].axhline(svm.margin, color="k", lw=0.8, ls=":")
        axes[row, 2].text(1.2e-2, svm.margin, "SVM margin", va="bottom", fontsize=8)
        cos_ref = float(svm.w @ (np.linalg.pinv(X.T) @ y) / np.linalg.norm(np.linalg.pinv(X.T) @ y))
        axes[row, 0].set_ylabel(label)
        for col, text in ((0, "X⁺ᵀy itself"), (1, "SVM direction itself")):
            axes[row, col].axhline(cos_ref, color="k", lw=0.8, ls=":")
            axes[row, col].text(1.2e-2, cos_ref, f"{text}: cos(SVM, X⁺ᵀy) = {cos_ref:.3f}", va="bottom", fontsize=7.5)
    for col, title in enumerate(["cosine to max-margin (SVM) direction", "cosine to X⁺ᵀy (equal margins)",
                                 "normalised margin min_i y_i wᵀx_i / ‖w‖"]):
        axes[0, col].set_title(title, fontsize=10)
        axes[1, col].set_xlabel("time t (log scale)")
        for row in range(2):
            axes[row, col].set_xscale("log")
            axes[row, col].grid(alpha=0.3)
    for row in range(2):
        for col in range(2):
            axes[row, col].set_ylim(0.6, 1.005)
    handles = [plt.Line2D([], [], color=c, lw=2) for c in DEPTH_COLORS.values()]
    handles += [plt.Line2D([], [], color="gray", ls="-"), plt.Line2D([], [], color="gray", ls="--")]
    fig.legend(handles, [f"depth L = {L}" for L in DEPTH_COLORS] + ["GD (to t = 10⁴)", "NGF (to t = 100)"],
               loc="lower center", ncol=6, fontsize=9)
    fig.suptitle("Separable logistic classification: GD heads to the max-margin direction, NGF (full-Fisher NGD, "
                 "Bernoulli Fisher) to X⁺ᵀy when n ≤ d", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(out / "kerekes2021_classification.png", dpi=DPI)
    plt.close(fig)
    return summary


def outside_span_figure(out: pathlib.Path) -> dict:
    """‖(I − P_X)w‖/‖w‖ at the end of training, n = 5 ≤ d = 10."""
    X, y = separable_data(5, 10, seed=0)
    scales = (0.1, 0.3, 0.5, 1.0)
    fig, ax = plt.subplots(1, 2, figsize=(FIGSIZE[0], 4.2), sharey=True)
    summary = {}
    for k, (rule, T) in enumerate((("gd", 1e4), ("ngf", 100.0))):
        for L in (1, 2, 3, 4):
            vals = []
            for a in scales:
                r = run_classifier(X, y, L, rule, np.array([0.0, T]), init_scale=a)
                vals.append(float(r.outside_span[-1]))
                summary[(rule, L, a)] = (float(r.outside_span[0]), vals[-1])
            ax[k].plot(scales, vals, "o-", color=DEPTH_COLORS[L], label=f"L = {L}")
        ax[k].set_xscale("log")
        ax[k].set_yscale("log")
        ax[k].set_xlabel("per-layer init scale α (‖W_i(0)‖₂ = α)")
        ax[k].set_title(("GD at t = 10⁴" if rule == "gd" else "NGF at t = 100") + ": part of w outside span(X)",
                        fontsize=10)
        ax[k].grid(alpha=0.3, which="both")
    ax[0].set_ylabel("‖(I − P_X) w‖ / ‖w‖")
    ax[0].legend(fontsize=9)
    fig.suptitle("n = 5 ≤ d = 10: the off-span part of w (0.48-0.83 of ‖w‖ at t = 0) shrinks relative to ‖w‖;\n"
                 "what remains depends on depth and init scale (the parameterisation)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(out / "kerekes2021_outside_span.png", dpi=DPI)
    plt.close(fig)
    return summary


def completion_figure(out: pathlib.Path) -> dict:
    """Recovery error and effective rank against depth, per init scale and variant."""
    M, mask = low_rank_problem(8, 1, 0.5, seed=0)
    scales = (0.1, 0.3, 1.0)
    depths = (1, 2, 3, 4)
    t = np.concatenate([[0.0], np.logspace(-1, 5, 40)])
    results = {}
    for variant in ("gd", "ngf", "ngd-data"):
        for a in scales:
            for L in depths:
                tt = t if variant == "gd" else np.array([0.0, 15.0])
                r = run_completion(M, mask, variant, L, tt, init_scale=a, stop_at=1e-3,
                                   rtol=1e-8 if variant == "gd" else 1e-6)
                results[(variant, a, L)] = (float(r.recovery_error[-1]), float(r.effective_rank[-1]),
                                            float(r.observed_error[-1]), r.crossing)
    fig, axes = plt.subplots(2, 3, figsize=(FIGSIZE[0], 7.0), sharex=True, sharey="row")
    for col, a in enumerate(scales):
        for variant, (label, color, style) in VARIANT_STYLE.items():
            rec = [results[(variant, a, L)][0] for L in depths]
            er = [results[(variant, a, L)][1] for L in depths]
            axes[0, col].plot(depths, rec, style, color=color, label=label)
            axes[1, col].plot(depths, er, style, color=color, label=label)
            for L in depths:
                if variant == "ngf" and results[(variant, a, L)][3] is not None:
                    axes[0, col].plot([L], [results[(variant, a, L)][0]], "x", color="k", ms=10)
        axes[0, col].set_title(f"init scale α = {a} (‖W(0)‖₂ = α^L)", fontsize=10)
        axes[0, col].set_yscale("log")
        axes[0, col].set_ylim(5e-3, 6)
        axes[0, col].axhline(1.0, color="k", lw=0.8, ls=":")
        axes[0, col].text(1.5, 1.5, "1 = unobserved entries left near 0", fontsize=7.5, va="bottom")
        axes[1, col].axhline(1.0, color="k", lw=0.8, ls=":")
        axes[1, col].set_xlabel("depth L")
        axes[1, col].set_xticks(depths)
        for row in range(2):
            axes[row, col].grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("error on unobserved entries\n‖P_Ωᶜ(W − M)‖ / ‖P_Ωᶜ M‖")
    axes[1, 0].set_ylabel("effective rank of W (target: 1)")
    handles = [plt.Line2D([], [], color=c, ls=s[-2:] if s.endswith("--") else s[-1], marker=s[0])
               for (_, c, s) in VARIANT_STYLE.values()]
    handles.append(plt.Line2D([], [], color="k", marker="x", ls=""))
    fig.legend(handles, [v[0] for v in VARIANT_STYLE.values()] +
               ["NGF path meets a singular W (leaves the function-space flow)"], loc="lower center", ncol=4, fontsize=9)
    fig.suptitle(f"Matrix completion, 8x8 rank 1, {int(mask.sum())} of 64 entries observed, fitted to 0.1% "
                 "observed error: deep GD from small init completes, function-space NGF cannot", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    fig.savefig(out / "kerekes2021_completion.png", dpi=DPI)
    plt.close(fig)
    return results


def singular_value_figure(out: pathlib.Path) -> dict:
    """σ_r(t) for GD at depths 1-4 and for the two NGD variants at depth 3, α = 0.1."""
    M, mask = low_rank_problem(8, 1, 0.5, seed=0)
    fig, axes = plt.subplots(2, 3, figsize=(FIGSIZE[0], 7.0), sharey=True)
    checks = {}
    t = np.concatenate([[0.0], np.logspace(-1, 4.5, 80)])
    panels = [("gd", L) for L in (1, 2, 3, 4)] + [("ngf", 3), ("ngd-data", 3)]
    for ax, (variant, L) in zip(axes.ravel(), panels):
        tt = t if variant == "gd" else np.concatenate([[0.0], np.logspace(-2, np.log10(15.0), 60)])
        r = run_completion(M, mask, variant, L, tt, init_scale=0.1, rtol=1e-10 if variant == "gd" else 1e-8)
        if variant == "gd" and L > 1:
            checks[L] = arora_singular_value_check(r)
        sig = np.linalg.svd(r.W, compute_uv=False)
        for k in range(sig.shape[1]):
            ax.plot(r.t[1:], sig[1:, k], color="tab:red" if k == 0 else "tab:gray", lw=1.6 if k == 0 else 0.9)
        ax.axhline(1.0, color="k", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 3)
        title = {"gd": f"GD, L = {L}", "ngf": f"NGF, function space (model Fisher), L = {L}",
                 "ngd-data": f"MP NGD with the data Fisher, L = {L}"}[variant]
        if variant == "gd" and L > 1:
            title += f"; Arora dσ_r/dt law: max rel. error {checks[L]:.0e}"
        title += f"\nunobserved error {r.recovery_error[-1]:.3f}, effective rank {r.effective_rank[-1]:.2f}"
        ax.set_title(title, fontsize=8.5)
        ax.grid(alpha=0.3, which="both")
    for ax in axes[1]:
        ax.set_xlabel("time t (log scale; NGD panels end at t = 15)")
    for ax in axes[:, 0]:
        ax.set_ylabel("singular values of W(t)\n(red: largest)")
    fig.suptitle("Matrix completion (8x8, rank 1, σ₁ = 1), init scale α = 0.1: singular values of W(t). Depth makes GD "
                 "grow one singular value and leave the rest small;\nfunction-space NGF fits the observed entries and "
                 "leaves the unobserved ones at their initial values", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(out / "kerekes2021_singular_values.png", dpi=DPI)
    plt.close(fig)
    return checks


def tanh_figure(out: pathlib.Path) -> dict:
    """NGF outputs of a tanh net against the function-space flow; deviation against width."""
    X, y = tanh_task(12, 3, seed=0)
    t = np.linspace(0.0, 6.0, 61)
    fig, axes = plt.subplots(1, 3, figsize=(FIGSIZE[0], 4.2))
    for ax, (h, seed) in zip(axes[:2], ((8, 0), (1, 3))):
        r = run_tanh(X, y, h, t, seed=seed)
        for i in range(0, r.n, 2):
            ax.plot(r.t, r.f_flow[:, i], color=f"C{i // 2}", lw=1.2)
            ax.plot(r.t[::4], r.f[::4, i], "o", color=f"C{i // 2}", ms=3.5)
        ax.set_title(f"width h = {h}: P = {r.n_params} {'≥' if r.n_params >= r.n else '<'} n = {r.n}; "
                     f"max deviation {r.deviation:.1e}", fontsize=9)
        ax.set_xlabel("time t")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training outputs f_i(t) (6 of 12)")
    axes[0].plot([], [], "k-", label="f = y + e⁻ᵗ(f₀ − y) (closed form)")
    axes[0].plot([], [], "ko", ms=3.5, label="NGF of the tanh net")
    axes[0].legend(fontsize=8)
    widths = (1, 2, 3, 4, 6, 8, 12, 24)
    summary = {}
    for seed, color, dy in ((0, "tab:blue", 1.0), (3, "tab:orange", 0.35)):
        devs, gaps = [], []
        for h in widths:
            r = run_tanh(X, y, h, t, seed=seed)
            devs.append(np.nan if r.stopped_at is not None else max(r.deviation, 1e-16))
            gaps.append(max(r.velocity_gap, 1e-16))
            summary[(h, seed)] = (r.deviation, r.velocity_gap, r.stopped_at, r.n_params)
            if r.stopped_at is not None:
                axes[2].plot([h], [dy * 2.0], "x", color=color, ms=8, mew=2)
        axes[2].plot(widths, devs, "o-", color=color, label=f"seed {seed}: max_t ‖f − f_flow‖ / ‖f₀ − y‖")
        axes[2].plot(widths, gaps, "s:", color=color, mfc="none", label=f"seed {seed}: at t = 0, ‖ḟ + (f − y)‖ / ‖f − y‖")
    axes[2].plot([], [], "x", color="gray", mew=2, label="run stalls (Fisher turns singular), t < 6")
    axes[2].set_ylim(1e-16, 10)
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("hidden width h (P = 4h parameters)")
    axes[2].set_ylabel("relative deviation")
    axes[2].set_title("deviation from the function-space flow", fontsize=9)
    axes[2].legend(fontsize=6.5, loc="center right", framealpha=0.95)
    axes[2].grid(alpha=0.3, which="both")
    fig.suptitle("Tanh network f(x) = vᵀtanh(Wx), n = 12, d = 3, NGF (full Fisher, Gaussian output, MP)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(out / "kerekes2021_tanh.png", dpi=DPI)
    plt.close(fig)
    return summary


def write(out: pathlib.Path) -> str:
    """Write the formulas (.tex) and figures (PNG) into `out`; return a summary line."""
    start = time.perf_counter()
    write_latex(out)
    for (label, rule, L), (cs, cp, nm, osp, T) in classification_figure(out).items():
        print(f"classification {label} {rule} L={L} t={T:g}: cos(SVM) {cs:.4f} cos(X+y) {cp:.4f} "
              f"norm. margin {nm:.4f} outside span {osp:.2e}")
    for (rule, L, a), (o0, o1) in outside_span_figure(out).items():
        print(f"outside span n<=d {rule} L={L} scale={a}: {o0:.3f} -> {o1:.2e}")
    for (variant, a, L), (rec, er, obs, cross) in completion_figure(out).items():
        print(f"completion {variant} scale={a} L={L}: recovery error {rec:.4f} effective rank {er:.3f} "
              f"observed error {obs:.1e}" + (f" singular crossing at s={cross:.3f}" if cross is not None else ""))
    for L, err in singular_value_figure(out).items():
        print(f"Arora singular-value law, GD L={L}: max relative error {err:.1e}")
    for (h, seed), (dev, gap, stop, P) in tanh_figure(out).items():
        print(f"tanh width {h} (P={P}) seed {seed}: deviation {dev:.2e}, initial velocity gap {gap:.2e}"
              + (f", stalls at t={stop:.3g}" if stop else ""))
    return f"done in {time.perf_counter() - start:.0f} s: {out}"


if __name__ == "__main__":
    from _script import run  # derivations/_script.py, beside this file

    sys.exit(run("kerekes2021", write))
