"""The run interface every page and the CLI use: a run in a local thread (default) or a Ray actor
(`runs.ray`), batched runs, slots, slow motion and every-loss; `backends` is the factory. May
import `latent` and below."""
