"""The fuzz suite's one hypothesis profile: few examples, no deadline (the machine may be busy)
and derandomized, so that CI tries the same inputs on every run and a failure reproduces."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
