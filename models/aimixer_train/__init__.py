"""Training pipeline for the AI Mixer genre model (corpus generator, features, model selection, export)."""
