"""Chapter 03's toy problems, figures and exercise checkers."""
