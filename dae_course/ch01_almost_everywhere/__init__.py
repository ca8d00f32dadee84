"""Chapter 01's toy problems, figures and exercise checkers."""
