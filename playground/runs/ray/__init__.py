"""The Ray backend: a run hosted in a Ray actor and the proxy that makes it look local. Ray
itself is imported only inside functions (an optional dependency)."""
