"""Training kit: datasets, synthetic blur, losses, the training loop, evaluation."""
