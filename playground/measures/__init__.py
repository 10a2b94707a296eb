"""Mode-collapse measures: modes covered and held, PRDC, grid divergences, FID/KID/IS, the
classifier that labels samples, and the evaluator that runs them. May import `settings` and
below."""
