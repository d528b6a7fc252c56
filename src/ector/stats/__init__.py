"""Statistics for surgical-outcome audit: intervals, funnel limits, overdispersion, CUSUM and standardisation.

Small pure functions, one job per module, following `docs/methods.md`:

- `intervals`: Wilson score interval (scalar and polars expression), exact Poisson interval for O/E.
- `standardisation`: expected counts (indirect standardisation or summed predicted risk), risk-adjusted rate.
- `overdispersion`: phi and tau2 per funnel (winsorised z for proportions, truncated z for SHMI).
- `funnel`: the funnel table (limits, flags) for proportions and O/E ratios.
- `cusum`: Steiner risk-adjusted CUSUM and VLAD as polars window expressions.
- `learning_curve`: operative minutes by case sequence, moving median and CUSUM of (x - mean).
"""
