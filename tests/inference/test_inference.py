"""msjax.inference against known answers: finite differences, analytic Fisher information and
profile intervals of a linear-Gaussian model, a structurally non-identifiable product (PEtab:
test_petab.py)."""

import math

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import msjax
from msjax.inference import (
    InferenceError,
    Laplace,
    Measurement,
    NegativeBinomial,
    Normal,
    Observable,
    Parameter,
    Poisson,
    Problem,
    feasible_starts,
    fisher_information,
    fit,
    latin_hypercube,
    profile,
    sloppiness,
    structural_identifiability,
)

SIGMA = 0.5
TIMES = np.linspace(0.5, 5.0, 10)


def _linear_problem(data):
    """x(t) = b + a t (``-> X`` at rate a, X(0) = b), measured with σ = 0.5."""
    model = msjax.Model(
        species={"X": 1.0},
        reactions=[msjax.Reaction("-> X", msjax.MassAction("a"))],
        parameters={"a": 1.0},
    )
    measurements = [
        Measurement("x", float(t), float(y), "c") for t, y in zip(TIMES, data, strict=True)
    ]
    return Problem(
        model,
        [Observable("x", "X", noise=str(SIGMA))],
        measurements,
        [Parameter("a", "lin", -10.0, 10.0, 1.0), Parameter("b", "lin", 0.0, 10.0, 2.0)],
        conditions={"c": {"X": "b"}},
    )


@pytest.fixture(scope="module")
def linear():
    noise = np.asarray(jax.random.normal(jax.random.key(1), (TIMES.size,), dtype=jnp.float64))
    data = 2.0 + 1.5 * TIMES + SIGMA * noise
    design = np.column_stack([TIMES, np.ones_like(TIMES)])
    estimate, *_ = np.linalg.lstsq(design, data, rcond=None)
    return _linear_problem(data), design, estimate


def test_nllh_gradient_matches_finite_differences_forward_and_reverse():
    model = msjax.models.birth_death(k=10.0, gamma=1.0)
    ts = np.linspace(0.5, 5.0, 8)
    data = 10 * (1 - np.exp(-ts)) + 0.3 * np.sin(7 * ts)
    problem = Problem(
        model,
        [Observable("x", "scale * X", noise="sigma", noise_model=Normal("log"))],
        [Measurement("x", float(t), float(y)) for t, y in zip(ts, data, strict=True)],
        [
            Parameter("k", "log10", 1e-2, 1e3, 10.0),
            Parameter("gamma", "log", 1e-2, 1e2, 1.0),
            Parameter("scale", "lin", 0.1, 10.0, 1.1),
            Parameter("sigma", "log10", 1e-3, 10.0, 0.2),
        ],
    )
    theta = problem.nominal_parameters() + 0.05
    value_f, grad_f = problem.value_and_grad(theta, mode="forward")
    value_r, grad_r = problem.value_and_grad(theta, mode="reverse")
    eps = 1e-5
    fd = np.asarray(
        [
            (float(problem.nllh(theta.at[i].add(eps))) - float(problem.nllh(theta.at[i].add(-eps))))
            / (2 * eps)
            for i in range(theta.size)
        ]
    )
    assert float(value_f) == pytest.approx(float(value_r), rel=1e-12)
    np.testing.assert_allclose(grad_f, fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_r, grad_f, rtol=1e-6, atol=1e-8)


def _noisy_birth_death():
    """Birth–death data with an estimated noise level σ that no simulation reads."""
    ts = np.linspace(0.5, 5.0, 8)
    data = 10 * (1 - np.exp(-ts)) + 0.3 * np.sin(7 * ts)
    return Problem(
        msjax.models.birth_death(k=10.0, gamma=1.0),
        [Observable("x", "X", noise="sigma")],
        [Measurement("x", float(t), float(y)) for t, y in zip(ts, data, strict=True)],
        [
            Parameter("k", "log10", 1e-2, 1e3, 10.0),
            Parameter("gamma", "log10", 1e-2, 1e2, 1.0),
            Parameter("sigma", "log10", 1e-4, 1e4, 30.0),
        ],
        method=msjax.ODE(rtol=1e-10, atol=1e-12, adjoint=diffrax.ForwardMode()),
    )


def test_starts_whose_solve_fails_are_replaced_by_fresh_points():
    """Lotka–Volterra over four decades of rates with 100 ODE steps: fast oscillations fail to
    solve in most of the box. `feasible_starts` keeps the hypercube's solvable points where
    they are and fills the others from fresh hypercubes."""
    problem = Problem(
        msjax.models.lotka_volterra(),
        [Observable("x", "X", noise=1.0)],
        [Measurement("x", float(t), 10.0) for t in np.linspace(1.0, 10.0, 5)],
        [Parameter(name, "log10", 1e-2, 1e2, 1.0) for name in ("a", "b", "d")],
        method=msjax.ODE(rtol=1e-6, atol=1e-8, max_steps=100, adjoint=diffrax.ForwardMode()),
    )
    key = jax.random.key(0)
    first = np.asarray(
        latin_hypercube(problem.lower, problem.upper, 20, key=jax.random.split(key, 10)[0])
    )
    solvable = np.isfinite([float(problem.objective(x)) for x in first])
    assert 0 < solvable.sum() < 10
    starts = np.asarray(feasible_starts(problem, 20, key=key))
    assert np.isfinite([float(problem.objective(x)) for x in starts]).all()
    np.testing.assert_array_equal(starts[solvable], first[solvable])
    assert np.all((starts >= np.asarray(problem.lower)) & (starts <= np.asarray(problem.upper)))


def test_fit_replaces_a_start_whose_first_solve_fails_by_a_fresh_hypercube_point():
    """The same Lotka–Volterra box: a fit (resampling by default) keeps the first hypercube's
    solvable points and begins every other start again at the next points of fresh
    hypercubes until its solve succeeds; without resampling those starts end failed."""
    problem = Problem(
        msjax.models.lotka_volterra(),
        [Observable("x", "X", noise=1.0)],
        [Measurement("x", float(t), 10.0) for t in np.linspace(1.0, 10.0, 5)],
        [Parameter(name, "log10", 1e-2, 1e2, 1.0) for name in ("a", "b", "d")],
        method=msjax.ODE(rtol=1e-6, atol=1e-8, max_steps=100),
    )
    key = jax.random.key(0)
    first, *fresh = (
        np.asarray(latin_hypercube(problem.lower, problem.upper, 20, key=k))
        for k in jax.random.split(key, 10)
    )
    solvable = np.isfinite([float(problem.objective(x)) for x in first])
    assert 0 < solvable.sum() < 10
    settings = dict(key=key, max_steps=1, ode_max_steps=None, ode_rtol=None, near_best=0.0)
    plain = fit(problem, 20, resample=False, **settings)
    assert int(np.sum(np.asarray(plain.failed))) == 20 - solvable.sum()
    result = fit(problem, 20, **settings)
    assert not np.asarray(result.failed).any()
    x0s = np.asarray(result.x0s)
    kept = [x for x in x0s if (first[solvable] == x).all(axis=1).any()]
    assert len(kept) == solvable.sum()
    candidates = np.concatenate(fresh)
    for x in x0s:
        if not (first == x).all(axis=1).any():
            assert (candidates == x).all(axis=1).any()
            assert np.isfinite(float(problem.objective(x)))
    assert np.unique(x0s, axis=0).shape[0] == 20


def test_fit_replaces_a_start_on_a_plateau_by_a_fresh_hypercube_point():
    """Production switched off for ``a ≫ 10⁻³`` (``k / (1 + (a/10⁻³)⁸)``): there the
    projected gradient already vanishes at a start's first evaluation. Without resampling
    those starts end on the plateau after that one iteration; with it they begin again at
    fresh hypercube points, and every start reaches the optimum."""
    model = msjax.Model(
        {"X": 0.0},
        [
            msjax.Reaction("-> X", lambda x, p: p["k"] / (1.0 + (p["a"] / 1e-3) ** 8)),
            msjax.Reaction("X ->", msjax.MassAction("g")),
        ],
        {"k": 1.0, "a": 1e-4, "g": 0.5},
    )
    problem = Problem(
        model,
        [Observable("x", "X", noise="1.0")],
        [Measurement("x", float(t), 1.5) for t in np.linspace(1.0, 10.0, 5)],
        [Parameter("a", "log10", 1e-5, 1e1, 1e-4), Parameter("k", "log10", 1e-1, 1e1, 1.0)],
    )
    settings = dict(key=jax.random.key(0), max_steps=20, near_best=0.0)
    plain = fit(problem, 10, resample=False, **settings)
    stuck = np.asarray(plain.iterations) == 1
    assert 0 < stuck.sum() < 10
    assert np.all(np.asarray(plain.fvals)[stuck] > float(plain.fun) + 1.0)
    assert np.all(np.asarray(plain.x0s)[stuck, 0] > -2.0)  # a > 10⁻²: switched off
    result = fit(problem, 10, **settings)
    assert np.all(np.asarray(result.iterations) > 1)
    np.testing.assert_allclose(result.fvals, plain.fun, rtol=0, atol=1e-6)


def test_fit_begins_its_last_starts_near_the_best_end_point():
    """``near_best=0.5``, one lane: every second start begins around the best end point found
    before it instead of at its hypercube point, and every start reaches this
    unimodal problem's optimum. The points drawn around a centre spread as documented: a
    normal step of a quarter of each range, clipped at the bounds (±2 standard deviations),
    whose standard deviation is then 0.9595 of the step's."""
    from msjax.inference._fit import _Resampler

    problem = _noisy_birth_death()
    key = jax.random.key(2)
    hypercube = np.asarray(
        latin_hypercube(problem.lower, problem.upper, 8, key=jax.random.split(key, 10)[0])
    )
    result = fit(problem, 8, key=key, ode_rtol=None)  # near_best: 0.5 by default
    x0s = np.asarray(result.x0s)
    from_hypercube = np.array([(hypercube[::2] == x).all(axis=1).any() for x in x0s])
    assert from_hypercube.sum() == 4
    assert not (hypercube[1::2, None] == x0s[None, ~from_hypercube]).all(axis=2).any()
    np.testing.assert_allclose(result.fvals, result.fun, rtol=0, atol=1e-6)

    lower, upper = np.asarray(problem.lower), np.asarray(problem.upper)
    centre = (lower + upper) / 2
    resampler = _Resampler(problem, 8, key=key)
    points = np.stack([resampler.near(centre) for _ in range(4000)])
    assert np.all((points >= lower) & (points <= upper))
    np.testing.assert_allclose(points.std(axis=0), 0.9595 * (upper - lower) / 4, rtol=0.05)
    assert np.all(np.abs(points.mean(axis=0) - centre) < 0.05 * (upper - lower) / 4)
    with pytest.raises(InferenceError, match="near_best"):
        fit(problem, 8, key=key, near_best=1.5)
    with pytest.raises(InferenceError, match="near_best"):
        fit(problem, key=key, x0=hypercube, near_best=0.5)


def test_fit_reports_values_at_the_problems_own_tolerance():
    """A fit solved at rtol 1e-6 reports every end point's objective as the problem's own
    solve (rtol 1e-10) gives it."""
    problem = _noisy_birth_death()
    result = fit(problem, 4, key=jax.random.key(1), max_steps=3, ode_rtol=1e-6)
    for x, f in zip(result.xs, result.fvals, strict=True):
        assert float(f) == pytest.approx(float(problem.objective(x)), rel=1e-9)


def test_trust_region_evaluation_gives_the_exact_gradient_and_the_best_noise_level():
    """One forward-mode pass: the objective and its gradient equal reverse mode's; σ, which
    no simulation reads, is moved to its closed-form optimum σ̂² = Σ(y − h)²/M (from 30, far
    above the residuals, where the Fisher information would take many small steps)."""
    from msjax.inference import _fisher, _trust_region

    problem = _noisy_birth_death()
    assert problem.observation_parameters == (2,)
    theta = problem.nominal_parameters() + jnp.asarray([0.05, -0.03, 0.0])
    ys, dys, ok = eqx.filter_jit(_fisher.state_sensitivities)(problem, theta)
    f, g, hessian = eqx.filter_jit(_fisher.scoring)(problem, theta, ys, dys, ok)
    value, grad = problem.value_and_grad(theta, mode="reverse")
    assert float(f) == pytest.approx(float(value), rel=1e-12)
    np.testing.assert_allclose(g, grad, rtol=1e-9, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(np.asarray(hessian)) > -1e-9)

    moved, f_moved, _, _ = eqx.filter_jit(_trust_region.evaluate)(problem, theta)
    h, _, _ = problem.predict(theta)
    sigma_hat = np.sqrt(np.mean((np.asarray(problem.data) - np.asarray(h)) ** 2))
    np.testing.assert_allclose(moved[:2], theta[:2], rtol=0, atol=0)
    assert 10.0 ** float(moved[2]) == pytest.approx(sigma_hat, rel=1e-8)
    assert float(f_moved) == pytest.approx(float(problem.objective(moved)), rel=1e-12)


def _scaled_birth_death(formula, noise, parameters, placeholders):
    """`_noisy_birth_death`'s data through another observable and parameter table;
    ``placeholders``: the measurements' observable and noise parameters."""
    base = _noisy_birth_death()
    observable_values, noise_values = placeholders
    measured = [
        m._replace(observable_parameters=observable_values, noise_parameters=noise_values)
        for m in base.measurements
    ]
    return Problem(
        base.model,
        [Observable("x", formula, noise=noise)],
        measured,
        [*base.spec[0][:2], *parameters],
        method=base.method,
    )


@pytest.mark.parametrize(
    "formula, noise, parameters, placeholders",
    [
        ("X", "sigma", [Parameter("sigma", "log10", 1e-4, 1e4, 30.0)], ((), ())),
        ("X", "sigma", [Parameter("sigma", "log10", 10.0, 1e4, 30.0)], ((), ())),  # at its bound
        (
            "scale * X",
            "sigma",
            [
                Parameter("scale", "log10", 1e-2, 1e2, 3.0),
                Parameter("sigma", "lin", 1e-4, 1e4, 5.0),
            ],
            ((), ()),
        ),
        (
            "X * observableParameter1_x",
            "noiseParameter1_x",
            [Parameter("scale", "lin", -10.0, 10.0, 0.5)],
            (("scale",), (0.3,)),
        ),
    ],
)
def test_closed_form_observation_parameters_are_the_iterated_optimum(
    formula, noise, parameters, placeholders
):
    """Where every observation parameter is a scaling or a noise level of normal noise,
    `evaluate` sets them in closed form; the iterated inner optimisation (kept for offsets
    and other noise models) finds the same values, also where a bound holds σ (10 > σ̂ ≈ 1.6)."""
    from msjax.inference import _fisher, _trust_region

    problem = _scaled_birth_death(formula, noise, parameters, placeholders)
    assert problem.closed_form_observation
    theta = problem.nominal_parameters() + jnp.asarray([0.05, -0.03] + [0.0] * len(parameters))
    ys, _, _ = _fisher.state_sensitivities(problem, theta)
    closed = _trust_region._best_observation_parameters(problem, theta, ys)
    iterated = _trust_region._optimise_observation_parameters(problem, theta, ys)
    np.testing.assert_allclose(closed, iterated, rtol=0, atol=1e-8)
    lower = np.asarray(problem.lower)
    assert (float(closed[2]) == lower[2]) == (parameters[0].lower == 10.0)


@pytest.mark.parametrize(
    "formula, noise, noise_model, closed",
    [
        ("X", "sigma", None, True),
        ("X", "noiseParameter1_x", None, True),
        ("X", "sigma", Normal("log"), True),
        ("scale * X", "sigma", None, True),
        ("scale * X", "2.0", None, True),
        ("X", "sigma * X", None, False),  # proportional noise
        ("X", "sigma", Laplace(), False),
        ("sigma * X", "sigma", None, False),  # σ also scales the observable
        ("scale * X", "sigma", Normal("log"), False),  # a scaling of log-normal data
        ("scale * X + sigma", "2.0", None, False),  # an offset
        ("scale * X", "scale", None, False),
        ("scale * X", "0.1 * x", None, False),  # noise proportional to the scaled value
    ],
)
def test_closed_form_only_for_scalings_and_noise_levels_of_normal_noise(
    formula, noise, noise_model, closed
):
    """``k`` is simulated; ``sigma`` and ``scale`` are observation parameters (read nowhere,
    one of them is simply never moved)."""
    measured = [Measurement("x", t, 2.0 + t, noise_parameters=("sigma",)) for t in (1.0, 2.0)]
    parameters = [Parameter("k", "log10", 1e-2, 1e2, 1.0)]
    parameters += [Parameter(p, "log10", 1e-3, 1e3, 1.0) for p in ("sigma", "scale")]
    problem = Problem(
        msjax.models.birth_death(),
        [Observable("x", formula, noise=noise, noise_model=noise_model)],
        measured,
        parameters,
    )
    assert problem.closed_form_observation == closed


@pytest.mark.slow  # run by .ci/run's inference step
def test_trust_region_fit_reaches_the_optimum_from_every_start():
    """Three starts spread over the bounds reach the same optimum: zero projected gradient, the
    objective of the best start and σ at its closed form."""
    problem = _noisy_birth_death()
    x0 = jnp.asarray([[-1.5, 1.5, 3.0], [2.5, -1.5, -3.0], [0.0, 0.0, 0.0]])
    result = fit(problem, x0=x0, key=None, ode_rtol=None)
    best = result.x
    np.testing.assert_allclose(result.fvals, result.fun, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.xs, np.broadcast_to(best, (3, 3)), atol=1e-4)
    assert np.asarray(result.converged).all()
    _, grad = problem.value_and_grad(best)
    assert float(jnp.max(jnp.abs(grad))) < 1e-4
    h, _, _ = problem.predict(best)
    sigma_hat = np.sqrt(np.mean((np.asarray(problem.data) - np.asarray(h)) ** 2))
    assert 10.0 ** float(best[2]) == pytest.approx(sigma_hat, rel=1e-6)


def test_failed_solve_gives_inf_not_nan():
    model = msjax.models.birth_death()
    problem = Problem(
        model,
        [Observable("x", "X", noise="1")],
        [Measurement("x", 5.0, 1.0)],
        [Parameter("k", "log10", 1e-3, 1e3, 1.0)],
        method=msjax.ODE(max_steps=2, adjoint=__import__("diffrax").ForwardMode()),
    )
    value, grad = problem.value_and_grad(problem.nominal_parameters())
    assert math.isinf(float(value)) and float(value) > 0
    assert np.all(np.isfinite(np.asarray(grad)))


def test_fisher_information_of_linear_gaussian_model_is_analytic(linear):
    problem, design, estimate = linear
    fim = fisher_information(problem, jnp.asarray(estimate))
    np.testing.assert_allclose(fim, design.T @ design / SIGMA**2, rtol=1e-6)
    spectrum = sloppiness(fim, problem.parameter_ids)
    np.testing.assert_allclose(
        spectrum.eigenvalues, np.linalg.eigvalsh(design.T @ design / SIGMA**2)[::-1], rtol=1e-6
    )


@pytest.mark.slow  # run by .ci/run's inference step
def test_fit_and_profile_intervals_of_linear_model(linear):
    problem, design, estimate = linear
    result = fit(problem, n_starts=4, method="levenberg_marquardt", key=jax.random.key(0))
    np.testing.assert_allclose(result.x, estimate, rtol=1e-5, atol=1e-6)
    assert float(result.fun) == pytest.approx(float(problem.nllh(jnp.asarray(estimate))), abs=1e-8)
    cov = SIGMA**2 * np.linalg.inv(design.T @ design)
    sd = np.sqrt(np.diag(cov))
    prof = profile(problem, result.x, n_points=16, width=4 * float(sd.max()), steps=10)
    z = math.sqrt(scipy.stats.chi2.ppf(0.95, 1))
    expected = np.stack([estimate - z * sd, estimate + z * sd], axis=1)
    np.testing.assert_allclose(prof.ci, expected, atol=0.02 * float(sd.max()))
    assert not prof.flat.any()
    # the truth lies inside (it does for this noise draw: |error| < 1.96 sd)
    assert np.all((prof.ci[:, 0] < [1.5, 2.0]) & ([1.5, 2.0] < prof.ci[:, 1]))


def test_product_k1_k2_is_structurally_and_practically_non_identifiable():
    model = msjax.Model(
        species={"X": 5.0},
        reactions=[msjax.Reaction("X ->", msjax.Formula("k1*k2*X"))],
        parameters={"k1": 1.0, "k2": 0.5},
    )
    ts = np.linspace(0.2, 4.0, 12)
    problem = Problem(
        model,
        [Observable("x", "X", noise="0.1")],
        [Measurement("x", float(t), float(5 * np.exp(-0.5 * t))) for t in ts],
        [Parameter("k1", "log10", 1e-2, 1e2, 1.0), Parameter("k2", "log10", 1e-2, 1e2, 0.5)],
    )
    report = structural_identifiability(problem, key=jax.random.key(0))
    assert report.rank == 1
    assert set(report.non_identifiable) == {"k1", "k2"}
    assert report.identifiable_combinations == ("k1 · k2",)
    np.testing.assert_allclose(np.abs(report.null_space[:, 0]), [2**-0.5, 2**-0.5], atol=1e-6)
    prof = profile(problem, problem.nominal_parameters(), ["k1"], n_points=4, width=1.0, steps=10)
    assert prof.flat.tolist() == [True]
    np.testing.assert_allclose(prof.nllh, prof.nllh[0, 4], atol=1e-6)


@pytest.mark.parametrize(
    ("noise", "reference"),
    [
        (Normal(), lambda y, m, s: scipy.stats.norm.logpdf(y, m, s)),
        (Normal("log"), lambda y, m, s: scipy.stats.lognorm.logpdf(y, s, scale=m)),
        (Laplace(), lambda y, m, s: scipy.stats.laplace.logpdf(y, m, s)),
        (Poisson(), lambda y, m, s: scipy.stats.poisson.logpmf(y, m)),
        (NegativeBinomial(), lambda y, m, s: scipy.stats.nbinom.logpmf(y, s, s / (s + m))),
    ],
)
def test_noise_models_match_scipy(noise, reference):
    y = np.asarray([0.0 + 1.0, 3.0, 7.0])
    mu = np.asarray([1.5, 2.5, 9.0])
    sigma = np.asarray([0.5, 2.0, 3.0])
    np.testing.assert_allclose(noise.log_prob(y, mu, sigma), reference(y, mu, sigma), rtol=1e-10)


def test_bad_input_errors_name_the_item():
    model = msjax.models.birth_death()
    obs = [Observable("x", "X")]
    with pytest.raises(InferenceError, match="unknown observable 'y'"):
        Problem(model, obs, [Measurement("y", 1.0, 1.0)], [])
    with pytest.raises(InferenceError, match=r"'k' has lower bound 5.0 > upper bound 1.0"):
        Problem(model, obs, [Measurement("x", 1.0, 1.0)], [Parameter("k", "lin", 5.0, 1.0)])
    with pytest.raises(InferenceError, match=r"'k' is on log10 scale but its lower bound is -1"):
        Problem(model, obs, [Measurement("x", 1.0, 1.0)], [Parameter("k", "log10", -1.0, 1.0)])
    with pytest.raises(InferenceError, match="measurement 1 .* non-finite value nan"):
        Problem(model, obs, [Measurement("x", 1.0, float("nan"))], [])
    with pytest.raises(InferenceError, match="reads unknown name"):
        Problem(model, [Observable("x", "Y")], [Measurement("x", 1.0, 1.0)], [])


def test_rows_are_grouped_by_observable_and_errors_name_the_row_given():
    """Interleaved measurements of two observables: the problem keeps them grouped by
    observable (`given_rows` maps back), its predictions follow that order, and its nllh is
    that of the same rows given grouped; an error names the row as given."""
    model = msjax.Model(
        species={"X": 1.0},
        reactions=[msjax.Reaction("-> X", msjax.MassAction("a"))],
        parameters={"a": 1.0},
    )
    observables = [Observable("x", "X", noise="0.5"), Observable("twice", "2 * X", noise="0.5")]
    given = [
        Measurement(name, float(t), float(t) + k, "c")
        for k, t in enumerate(TIMES[:4])
        for name in ("twice", "x")
    ]
    parameters = [Parameter("a", "lin", -10.0, 10.0, 1.5), Parameter("b", "lin", 0.0, 10.0, 2.0)]
    problem = Problem(model, observables, given, parameters, conditions={"c": {"X": "b"}})
    assert [m.observable for m in problem.measurements] == ["x"] * 4 + ["twice"] * 4
    assert problem.given_rows == (1, 3, 5, 7, 0, 2, 4, 6)
    assert all(problem.measurements[i] == given[j] for i, j in enumerate(problem.given_rows))
    h, _, ok = problem.predict(problem.nominal_parameters())
    t = np.asarray([m.time for m in problem.measurements])
    factor = np.where(np.arange(8) < 4, 1.0, 2.0)
    np.testing.assert_allclose(h, factor * (2.0 + 1.5 * t), rtol=1e-7)
    grouped = Problem(
        model, observables, list(problem.measurements), parameters, conditions={"c": {"X": "b"}}
    )
    assert grouped.given_rows == tuple(range(8))
    theta = jnp.asarray([0.7, 3.0])
    assert float(problem.nllh(theta)) == pytest.approx(float(grouped.nllh(theta)), rel=1e-12)
    bad = [*given[:3], given[3]._replace(value=float("nan")), *given[4:]]
    with pytest.raises(InferenceError, match=r"measurement 4 \(x\) has non-finite value nan"):
        Problem(model, observables, bad, parameters, conditions={"c": {"X": "b"}})


@pytest.mark.slow  # run by .ci/run's inference step
def test_fit_pool_refills_lanes_and_flags_a_start_whose_solve_fails():
    """Birth–death data without noise, x(t) = k/γ (1 − e^{−γt}) at k = 10, γ = 1: three starts
    reach the exact fit (nllh = M/2 log 2π); a start at γ = 10⁴ needs ~10⁴ explicit steps,
    beyond ``ode_max_steps``, and is flagged failed (+inf, never NaN). Two lanes, three
    iterations per chunk: lanes are refilled while others run."""
    ts = np.linspace(0.5, 5.0, 8)
    data = 10.0 * (1.0 - np.exp(-ts))
    problem = Problem(
        msjax.models.birth_death(),
        [Observable("x", "X", noise="1")],
        [Measurement("x", float(t), float(y)) for t, y in zip(ts, data, strict=True)],
        [Parameter("k", "log10", 1e-2, 1e3, 3.0), Parameter("gamma", "log10", 1e-2, 1e4, 0.5)],
        method=msjax.ODE.nonstiff(rtol=1e-10, atol=1e-12, adjoint=diffrax.ForwardMode()),
    )
    x0 = jnp.asarray([[0.5, 0.3], [1.0, 4.0], [1.5, -0.5], [0.8, 0.0]])
    result = fit(problem, x0=x0, key=None, lanes=2, chunk=3, ode_max_steps=2000)
    exact = 0.5 * ts.size * math.log(2 * math.pi)
    np.testing.assert_allclose(np.asarray(result.fvals[:3]), exact, rtol=0, atol=1e-8)
    np.testing.assert_allclose(np.asarray(result.xs[:3]), [[1.0, 0.0]] * 3, atol=1e-5)
    assert np.asarray(result.converged).tolist() == [True, True, True, False]
    assert np.asarray(result.failed).tolist() == [False, False, False, True]
    assert math.isinf(float(result.fvals[3])) and np.asarray(result.x0s[3]).tolist() == [1.0, 4.0]
