"""Chapter 07's toy problems, figures and exercise checkers."""
