"""lindyn: exact learning dynamics of deep linear networks, derived and proved two ways.

Learning rules are defined once (`lindyn.rules`) as what they do to per-layer gradients; the
symbolic engine derives each singular mode's ODE, conserved quantities and closed-form solution
from that definition, and the numeric side integrates the full matrix ODEs to check them.
"""
from __future__ import annotations

__version__ = "0.1.0"

from ._checks import IntegrationFailed, LindynError, NoModeDecomposition, SingularCrossing
from .problem import (Aligned, GivenWeights, Init, LambdaBalanced, Network, Problem, RandomOrthogonal,
                      SmallRandom, Task, aligned_problem)
from .rules import (GD, NGD, BlockNGD, FunctionRule, LearningRule, Scaled, bernacchia, kfac, rule,
                    rule_from_name)

__all__ = [
    "__version__",
    "LindynError", "NoModeDecomposition", "SingularCrossing", "IntegrationFailed",
    "Network", "Task", "Init", "Aligned", "LambdaBalanced", "SmallRandom", "RandomOrthogonal",
    "GivenWeights", "Problem", "aligned_problem",
    "LearningRule", "GD", "NGD", "BlockNGD", "Scaled", "FunctionRule", "rule", "kfac", "bernacchia",
    "rule_from_name",
]

# === numeric integration (foundation issue): names added below
from .integrate import Discrete, Flow, HighPrecision, NumericTrajectory, integrate  # noqa: E402

__all__ += ["integrate", "Flow", "Discrete", "HighPrecision", "NumericTrajectory"]
# === symbolic engine: names added below
from .symbolic.invariants import conserved_quantities  # noqa: E402
from .trajectory import ModeProblem, Trajectory, derive  # noqa: E402

__all__ += ["derive", "Trajectory", "ModeProblem", "conserved_quantities"]
# === claims and verification report: names added below
from .claims import Claim, ClaimResult, all_claims, get_claim  # noqa: E402
from .report import write_report  # noqa: E402
from .verify import Verification, verify  # noqa: E402

__all__ += ["verify", "Verification", "Claim", "ClaimResult", "all_claims", "get_claim", "write_report"]
# === Kerekes et al. 2021 (function space, classification, completion): names added below
from .function_space import (FunctionSpaceTrajectory, ReductionCheck, derive_reduction,  # noqa: E402
                             function_space_trajectory, kerekes_claims)
from .numeric.classification import equal_margin_direction, max_margin_direction, run_classifier, separable_data  # noqa: E402
from .numeric.completion import (arora_singular_value_check, effective_rank, low_rank_problem, run_completion,  # noqa: E402
                                 singular_crossing)
from .numeric.losses import CompletionLoss, LogisticLoss, LossGeometry, SquaredLoss, integrate_loss  # noqa: E402
from .numeric.overparam import run_tanh, tanh_task  # noqa: E402

__all__ += [
    "FunctionSpaceTrajectory", "function_space_trajectory", "kerekes_claims", "derive_reduction", "ReductionCheck",
    "SquaredLoss", "LogisticLoss", "CompletionLoss", "LossGeometry", "integrate_loss",
    "max_margin_direction", "equal_margin_direction", "separable_data", "run_classifier",
    "low_rank_problem", "run_completion", "effective_rank", "singular_crossing", "arora_singular_value_check",
    "tanh_task", "run_tanh",
]
