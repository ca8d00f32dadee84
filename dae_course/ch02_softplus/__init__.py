"""Chapter 02's toy problems, figures and exercise checkers."""
