"""The modes that drive the library: the Hypothesis machine, fast seeded episodes, and one
Hypothesis campaign round."""
