"""lindyn: exact learning dynamics of deep linear networks, derived and checked two ways.

Learning rules are defined once (`lindyn.rules`) as what they do to per-layer gradients. Three
verbs join the concepts: `derive` (the symbolic engine: each singular mode's ODE, conserved
quantities and closed-form solution, derived from the rule's definition), `integrate` (the full
matrix ODEs of any problem: model x loss x data, by a solver object) and `verify` (the papers'
claims, each checked by two independent routes or reported as a measured outcome).
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ._checks import IntegrationFailed, LindynError, LindynFailure, NoModeDecomposition, SingularCrossing
from ._version import __version__

#: Where each public name lives. `import lindyn` loads only the errors and the version; a name's
#: module (and sympy, scipy or matplotlib behind it) is imported when the name is first used.
_WHERE: dict[str, tuple[str, ...]] = {
    ".integrate": ('Discrete', 'Flow', 'HighPrecision', 'Stochastic', 'NumericTrajectory', 'estimated_factors', 'geometry', 'integrate', 'layer_velocities',),
    ".numeric.losses": ('LogisticLoss', 'MaskedSquaredLoss', 'SquaredLoss',),
    ".problem": ('Aligned', 'DiagonalInit', 'DiagonalNetwork', 'GivenWeights', 'Init', 'LambdaBalanced', 'Network', 'Problem', 'RandomOrthogonal', 'Samples', 'SmallRandom', 'Task', 'aligned_problem',),
    ".rules": ('GD', 'NGD', 'BlockNGD', 'FunctionRule', 'LearningRule', 'Scaled', 'bernacchia', 'kfac', 'rule', 'rule_from_name',
               'ExactFactors', 'SampledFisher', 'EmpiricalFisher', 'MovingAverage', 'LevenbergMarquardt',),
    ".symbolic.invariants": ('conserved_quantities',),
    ".trajectory": ('CONDITION_WARN', 'IllConditioned', 'ModeProblem', 'Trajectory', 'derive',),
    ".discrete": ('DiscreteMap', 'derive_discrete', 'matrix_iterates',),
    ".depth": ('AnyDepth', 'derive_any_depth',),
    ".matrix": ('MatrixSolution', 'balance_lambda', 'derive_matrix',),
    ".end_to_end": ('EndToEnd', 'balanced_factors', 'end_to_end_problem', 'imbalance',),
    ".claims": ('Claim', 'ClaimResult', 'Evidence', 'Measurement', 'all_claims', 'get_claim',),
    ".function_space": ('FunctionSpaceTrajectory', 'MaxMargin', 'ReductionCheck', 'completion_errors', 'derive_reduction', 'effective_rank', 'equal_margin_direction', 'function_space_trajectory', 'low_rank_problem', 'max_margin_direction', 'outside_span', 'separable_data', 'singular_crossing', 'sparse_teacher', 'sparse_regression_data', 'sparse_classification_data', 'diagonal_problem', 'min_l1_interpolant', 'L1MaxMargin', 'l1_max_margin_direction', 'recovery_error', 'sign_agreement',),
    ".report": ('write_report',),
    ".datasets": ('read_idx', 'mnist', 'digits', 'autoencoder_samples', 'TeacherTask', 'bernacchia_linear_task', 'random_net',),
    ".verify": ('Verification', 'verify',),
    ".sweep": ('Grid', 'SweepResult', 'load_grid', 'sweep',),
}
_LAZY = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "__version__",
    # errors
    "LindynError", "NoModeDecomposition", "LindynFailure", "IntegrationFailed", "SingularCrossing",
    # one problem: model x loss x data, initialisation
    "Network", "DiagonalNetwork", "DiagonalInit", "Task", "Samples", "SquaredLoss", "LogisticLoss", "MaskedSquaredLoss",
    "Init", "Aligned", "LambdaBalanced", "SmallRandom", "RandomOrthogonal", "GivenWeights",
    "Problem", "aligned_problem",
    # learning rules
    "LearningRule", "GD", "NGD", "BlockNGD", "Scaled", "FunctionRule", "rule", "kfac", "bernacchia",
    "rule_from_name",
    # what practitioners run: estimated Kronecker factors, adaptive damping
    "ExactFactors", "SampledFisher", "EmpiricalFisher", "MovingAverage", "LevenbergMarquardt",
    # integrate: one integrator, solver objects
    "integrate", "layer_velocities", "geometry", "Flow", "Discrete", "HighPrecision", "Stochastic", "NumericTrajectory",
    "estimated_factors",
    # derive: one derivation pipeline
    "derive", "Trajectory", "ModeProblem", "conserved_quantities", "IllConditioned", "CONDITION_WARN",
    # finite steps and every depth at once, derived from the same rule definitions
    "derive_discrete", "DiscreteMap", "matrix_iterates", "derive_any_depth", "AnyDepth",
    # whole-matrix closed forms beyond aligned modes (two-layer λ-balanced, the derived Riccati form)
    "derive_matrix", "MatrixSolution", "balance_lambda",
    # the end-to-end flow of W = W_L⋯W_1 induced by a rule on a balanced factorisation (Arora et al. 2018)
    "EndToEnd", "end_to_end_problem", "balanced_factors", "imbalance",
    # verify: claims with their papers
    "verify", "Verification", "Claim", "ClaimResult", "Measurement", "Evidence", "all_claims", "get_claim",
    "write_report",
    # data of the practical experiments (Bernacchia et al. 2018): a teacher task, digits, MNIST IDX files
    "read_idx", "mnist", "digits", "autoencoder_samples", "TeacherTask", "bernacchia_linear_task", "random_net",
    # sweeps: grids of lindyn calls on Dask
    "sweep", "load_grid", "Grid", "SweepResult",
    # Kerekes et al. 2021: function-space flows and the experiments' tools
    "FunctionSpaceTrajectory", "function_space_trajectory", "derive_reduction", "ReductionCheck",
    "MaxMargin", "max_margin_direction", "equal_margin_direction", "outside_span", "separable_data",
    "low_rank_problem", "completion_errors", "effective_rank", "singular_crossing",
    # ... and the sparse case: diagonal linear networks
    "sparse_teacher", "sparse_regression_data", "sparse_classification_data", "diagonal_problem",
    "min_l1_interpolant", "L1MaxMargin", "l1_max_margin_direction", "recovery_error", "sign_agreement",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562) and cache the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package module: loading a submodule must not hide the function of the same name.

    `integrate`, `sweep` and `verify` are both submodules and public functions; Python's import
    system sets `lindyn.<submodule>` when a submodule loads, which would replace the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _LAZY and value.__name__ == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

if TYPE_CHECKING:  # the real imports, for type checkers and IDEs
    from ._checks import IntegrationFailed, LindynError, LindynFailure, NoModeDecomposition, SingularCrossing
    from ._version import __version__
    from .integrate import (Discrete, Flow, HighPrecision, NumericTrajectory, Stochastic, estimated_factors, geometry,
                            integrate, layer_velocities)
    from .numeric.losses import LogisticLoss, MaskedSquaredLoss, SquaredLoss
    from .problem import (Aligned, DiagonalInit, DiagonalNetwork, GivenWeights, Init, LambdaBalanced, Network, Problem,
                          RandomOrthogonal, Samples, SmallRandom, Task, aligned_problem)
    from .rules import (GD, NGD, BlockNGD, EmpiricalFisher, ExactFactors, FunctionRule, LearningRule, LevenbergMarquardt,
                        MovingAverage, SampledFisher, Scaled, bernacchia, kfac, rule, rule_from_name)
    from .symbolic.invariants import conserved_quantities
    from .trajectory import CONDITION_WARN, IllConditioned, ModeProblem, Trajectory, derive
    from .discrete import DiscreteMap, derive_discrete, matrix_iterates
    from .depth import AnyDepth, derive_any_depth
    from .matrix import MatrixSolution, balance_lambda, derive_matrix
    from .end_to_end import EndToEnd, balanced_factors, end_to_end_problem, imbalance
    from .claims import Claim, ClaimResult, Evidence, Measurement, all_claims, get_claim
    from .function_space import (FunctionSpaceTrajectory, MaxMargin, ReductionCheck, completion_errors, derive_reduction,
                                 effective_rank, equal_margin_direction, function_space_trajectory, low_rank_problem,
                                 max_margin_direction, outside_span, separable_data, singular_crossing,
                                 sparse_teacher, sparse_regression_data, sparse_classification_data, diagonal_problem,
                                 min_l1_interpolant, L1MaxMargin, l1_max_margin_direction, recovery_error, sign_agreement)
    from .report import write_report
    from .datasets import (TeacherTask, autoencoder_samples, bernacchia_linear_task, digits, mnist, random_net,
                           read_idx)
    from .verify import Verification, verify
    from .sweep import Grid, SweepResult, load_grid, sweep
