"""What is kept on disk: checkpoints (safetensors + JSON, never unpickled) and the runs folder
with its ownership. May import `training` and below."""
