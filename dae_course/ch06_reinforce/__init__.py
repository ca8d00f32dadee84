"""Chapter 06's toy problems, figures and exercise checkers."""
