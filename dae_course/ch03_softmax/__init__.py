"""Chapter 3 (softmax relaxes arg max): figures and exercise checkers."""
