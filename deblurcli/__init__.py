"""deblurcli: remove motion blur from photos and videos with deep-learning models."""

__version__ = "0.1.0"
